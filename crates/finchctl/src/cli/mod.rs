//! The command tree of Finch 1.x, with its dotted flag names, as clap derive types.
//!
//! The file tree mirrors the command tree: `cli/agent/register.rs` is `finchctl agent register`,
//! and each leaf holds its `Args` and its `run`. Parsing does no I/O; `run` resolves the parsed
//! values against the environment, finch.json and the credentials ([`context`]), so a bad value
//! is reported naming its flag. Completions and man pages come from these same definitions.

pub mod agent;
pub mod args;
mod completion;
pub mod context;
mod manpages;
pub mod service;
pub mod transport;
mod version;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::environment::Environment;
use crate::output::{Output, OutputFormat};
use crate::target::run::Interrupted;

pub use context::Context;

/// The default timeout of each command or upload on a target, in seconds (1.x's value).
pub const DEFAULT_CMD_TIMEOUT_SECS: u64 = 300;
/// The exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;
/// The default deadline of each gRPC call, in seconds (1.x's fixed value).
pub const DEFAULT_RPC_TIMEOUT_SECS: u64 = 15;

/// finchctl: deploy a Finch observability stack (logs, metrics, profiles) and manage its agents.
#[derive(Debug, Parser)]
#[command(
    name = "finchctl",
    version = crate::RELEASE,
    about = "Deploy a Finch observability stack (logs, metrics, profiles) and manage its agents",
    long_about = None,
    arg_required_else_help = true,
    after_help = "Environment:\n  FINCH_CONFIG           directory holding finch.json (default ~/.config)\n  FINCH_SKIP_TLS_VERIFY  1 or true: do not verify the service's certificate\n  NO_COLOR               no colours"
)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Do not verify the service's certificate (also FINCH_SKIP_TLS_VERIFY=1|true)
    #[arg(long = "tls.skip-verify", global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub tls_skip_verify: Option<bool>,
    /// Timeout of each command or upload on a target, in seconds
    #[arg(long = "run.cmd-timeout", global = true, default_value_t = DEFAULT_CMD_TIMEOUT_SECS, value_name = "SECONDS")]
    pub cmd_timeout: u64,
    /// Deadline of each call to the service, in seconds
    #[arg(long = "rpc.timeout", global = true, default_value_t = DEFAULT_RPC_TIMEOUT_SECS, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rpc_timeout: u64,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy, maintain and query the Finch stack
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Enroll, inspect, change, deploy and remove agents
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Print the release, commit and this machine's client RID
    Version(version::VersionArgs),
    /// Print a shell completion script
    Completion(completion::CompletionArgs),
    /// Write man pages for every command into a directory
    #[command(hide = true)]
    Manpages(manpages::ManpagesArgs),
}

// === impl Command ===

impl Command {
    /// The output format the command asked for (errors follow it too).
    pub fn output_format(&self) -> OutputFormat {
        match self {
            Command::Service(c) => c.output_format(),
            Command::Agent(c) => c.output_format(),
            Command::Version(_) | Command::Completion(_) | Command::Manpages(_) => {
                OutputFormat::Table
            }
        }
    }
}

/// Parses `args`, runs the command and returns the exit code: 0 ok, 1 failed, 2 usage.
pub fn main(args: impl IntoIterator<Item = OsString>, env: Environment) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    let output = Output {
        format: cli.command.output_format(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return output.report(&anyhow::Error::new(err).context("cannot start")),
    };
    let context = Context::new(env, cli.global.clone(), output);
    // Ctrl-C stops running steps on their hosts; the command then exits 130.
    let cancel = context.cancel.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    match runtime.block_on(run(cli.command, &context)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<Interrupted>() => {
            eprintln!("error: interrupted");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(err) => output.report(&err),
    }
}

/// Runs one parsed command.
pub async fn run(command: Command, cx: &Context) -> anyhow::Result<()> {
    match command {
        Command::Service(c) => service::run(c, cx).await,
        Command::Agent(c) => agent::run(c, cx).await,
        Command::Version(a) => version::run(&a, cx),
        Command::Completion(a) => completion::run(&a),
        Command::Manpages(a) => manpages::run(&a, cx),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
