//! The `finch` binary: parse the command line, set up logging, run.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use finch::cli::{Cli, Command};
use finch::{backup, init, logging, migrate, run, version};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        _ if cli.version => print_version(),
        Some(Command::Version) => print_version(),
        Some(Command::Run(args)) => {
            logging::init(args.log_level, args.log_format);
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("error: cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(run::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "finch stopped");
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Init(args)) => match init::init(&args) {
            Ok(path) => {
                println!("{}", path.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Migrate(args)) => migrate_registry(&args),
        Some(Command::Backup(args)) => backup_registry(&args),
        None => {
            use clap::CommandFactory as _;
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
    }
}

/// `finch migrate`: the outcome on stdout, errors on stderr.
fn migrate_registry(args: &finch::cli::MigrateArgs) -> ExitCode {
    let migrated = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(migrate::migrate(args)));
    match migrated {
        Ok(done) => {
            if done.replaced > 0 {
                println!("deleted {} agents from the target", done.replaced);
            }
            println!("copied {} agents, verified", done.agents);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `finch backup`: `agents N` on stdout for the registry (read by `finchctl service backup`),
/// errors on stderr.
fn backup_registry(args: &finch::cli::BackupArgs) -> ExitCode {
    let copied = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(backup::backup(args)));
    match copied {
        Ok(copied) => {
            if let Some(agents) = copied.agents {
                println!("agents {agents}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_version() -> ExitCode {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    print!("{}", version::banner(color));
    ExitCode::SUCCESS
}
