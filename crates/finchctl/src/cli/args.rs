//! Argument groups shared by several commands, with 1.x's dotted names and defaults.
//!
//! Boolean flags accept `--flag`, `--flag=true` and `--flag=false` like 1.x's (cobra) flags,
//! and parse to `Option<bool>` so that a command can tell "not given" from "false": that is
//! what lets `agent edit` change only what was given.

use std::path::PathBuf;

use clap::Args;

use crate::agent_input::AgentInput;
use crate::output::OutputFormat;
pub use crate::target::HostKeyCheck;
use crate::target::fleet::DEFAULT_PARALLEL;
pub use crate::target::report::RunFormat;

/// The SSH target of a command that runs on a host, with the `--ssh.*` flags.
#[derive(Debug, Clone, Args)]
pub struct TargetArg {
    /// The host to run on: [user@]host[:port] or an ssh config alias
    #[arg(value_name = "[user@]host[:port]")]
    pub target: String,
    /// How to call ssh.
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// One or more targets (the doctors check several hosts at once), with the `--ssh.*` flags.
#[derive(Debug, Clone, Args)]
pub struct TargetsArg {
    /// The hosts to run on: [user@]host[:port] or ssh config aliases
    #[arg(value_name = "[user@]host[:port]", required = true, num_args = 1..)]
    pub targets: Vec<String>,
    /// How to call ssh.
    #[command(flatten)]
    pub ssh: SshArgs,
}

/// The `--ssh.*` flags, taken by every SSH command.
#[derive(Debug, Clone, Default, Args)]
pub struct SshArgs {
    /// An ssh option, passed to ssh as -o KEY=VALUE (repeatable)
    #[arg(long = "ssh.option", value_name = "KEY=VALUE", value_parser = parse_ssh_option)]
    pub ssh_options: Vec<String>,
    /// Host key policy: accept-new records a new host and refuses a changed key
    #[arg(
        long = "ssh.host-key-check",
        value_enum,
        default_value = "accept-new",
        value_name = "POLICY"
    )]
    pub host_key_check: HostKeyCheck,
    /// An ssh config file to use instead of ~/.ssh/config (passed to ssh as -F)
    #[arg(long = "ssh.config", value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
}

/// The service a gRPC command talks to: a stack name in finch.json and its address.
#[derive(Debug, Clone, Args)]
pub struct ServiceArg {
    /// The stack's service name (host[:port]), as stored in finch.json
    #[arg(value_name = "service-name")]
    pub service: String,
}

/// `--run.format`, `--run.dry-run` and `--run.parallel`, taken by every SSH command.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// How to report each step
    #[arg(
        long = "run.format",
        value_enum,
        default_value = "progress",
        value_name = "FORMAT"
    )]
    pub format: RunFormat,
    /// Print the steps without connecting or running them
    #[arg(long = "run.dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub dry_run: Option<bool>,
    /// How many targets to run on at once
    #[arg(long = "run.parallel", default_value_t = DEFAULT_PARALLEL, value_name = "N", value_parser = parse_parallel)]
    pub parallel: usize,
}

/// `--output`, plus 1.x's `--output.json` and `--output.yaml` booleans as aliases.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Output format
    #[arg(long = "output", short = 'o', value_enum, value_name = "FORMAT", conflicts_with_all = ["output_json", "output_yaml"])]
    pub output: Option<OutputFormat>,
    /// Same as --output json (as in 1.x)
    #[arg(long = "output.json", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", conflicts_with = "output_yaml")]
    pub output_json: Option<bool>,
    /// Same as --output yaml (as in 1.x)
    #[arg(long = "output.yaml", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub output_yaml: Option<bool>,
}

/// `--output.json` alone, for the doctor commands (1.x's only format switch there).
#[derive(Debug, Clone, Default, Args)]
pub struct DoctorOutputArgs {
    /// Output format
    #[arg(
        long = "output",
        short = 'o',
        value_enum,
        value_name = "FORMAT",
        conflicts_with = "output_json"
    )]
    pub output: Option<OutputFormat>,
    /// Same as --output json (as in 1.x)
    #[arg(long = "output.json", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub output_json: Option<bool>,
}

/// The custom-certificate flags shared by `service deploy` and `service update`.
#[derive(Debug, Clone, Default, Args)]
pub struct CustomTlsArgs {
    /// Use a certificate of your own
    #[arg(long = "service.customtls", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub customtls: Option<bool>,
    /// The custom certificate (PEM file)
    #[arg(long = "service.customtls.cert", value_name = "FILE")]
    pub customtls_cert: Option<PathBuf>,
    /// The custom certificate's key (PEM file)
    #[arg(long = "service.customtls.key", value_name = "FILE")]
    pub customtls_key: Option<PathBuf>,
}

/// The agent settings flags shared by `agent register` and `agent edit`.
#[derive(Debug, Clone, Default, Args)]
pub struct AgentInputArgs {
    /// Collect the systemd journal
    #[arg(long = "agent.logs.journal", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub journal: Option<bool>,
    /// Collect Docker container logs
    #[arg(long = "agent.logs.docker", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub docker: Option<bool>,
    /// Log files to collect (absolute paths on the agent host, globs allowed; comma-separated or repeated)
    #[arg(long = "agent.logs.files", value_delimiter = ',', value_name = "PATH")]
    pub files: Option<Vec<String>>,
    /// Windows event logs to collect (comma-separated or repeated)
    #[arg(long = "agent.logs.events", value_delimiter = ',', value_name = "NAME")]
    pub events: Option<Vec<String>>,
    /// Collect metrics
    #[arg(long = "agent.metrics", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub metrics: Option<bool>,
    /// Extra Prometheus scrape targets (URLs; switch metrics on unless --agent.metrics=false)
    #[arg(
        long = "agent.metrics.targets",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub metrics_targets: Option<Vec<String>>,
    /// Receive profiles
    #[arg(long = "agent.profiles", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub profiles: Option<bool>,
    /// Labels, key or key=value (comma-separated or repeated; an empty value clears them)
    #[arg(long = "agent.labels", value_delimiter = ',', value_name = "LABEL")]
    pub labels: Option<Vec<String>>,
    /// Read the agent's settings from a YAML, JSON or TOML file; flags given win
    #[arg(long = "agent.file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `KEY=VALUE` with a non-empty key made of letters and digits (ssh's option names).
fn parse_ssh_option(raw: &str) -> Result<String, String> {
    match raw.split_once('=') {
        Some((key, _)) if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Ok(raw.to_owned())
        }
        _ => Err(format!(
            "{raw:?} is not KEY=VALUE with an ssh option name as KEY (e.g. Port=2222)"
        )),
    }
}

/// At least 1.
fn parse_parallel(raw: &str) -> Result<usize, String> {
    raw.parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| format!("{raw:?} is not a number of targets (1 or more)"))
}

// === impl OutputArgs ===

impl OutputArgs {
    /// The format asked for; table when none.
    pub fn format(&self) -> OutputFormat {
        if let Some(format) = self.output {
            format
        } else if self.output_json == Some(true) {
            OutputFormat::Json
        } else if self.output_yaml == Some(true) {
            OutputFormat::Yaml
        } else {
            OutputFormat::Table
        }
    }
}

// === impl DoctorOutputArgs ===

impl DoctorOutputArgs {
    /// The format asked for; table when none.
    pub fn format(&self) -> OutputFormat {
        match (self.output, self.output_json) {
            (Some(format), _) => format,
            (None, Some(true)) => OutputFormat::Json,
            _ => OutputFormat::Table,
        }
    }
}

// === impl AgentInputArgs ===

impl AgentInputArgs {
    /// The settings given as flags (not the file).
    pub fn input(&self) -> AgentInput {
        AgentInput {
            journal: self.journal,
            docker: self.docker,
            files: self.files.clone(),
            events: self.events.clone(),
            metrics: self.metrics,
            metrics_targets: self.metrics_targets.clone(),
            profiles: self.profiles,
            labels: self.labels.clone(),
            ..AgentInput::default()
        }
    }
}
