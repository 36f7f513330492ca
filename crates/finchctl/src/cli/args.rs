//! Argument groups shared by several commands, with 1.x's dotted names and defaults.
//!
//! Boolean flags accept `--flag`, `--flag=true` and `--flag=false` like 1.x's (cobra) flags,
//! and parse to `Option<bool>` so that a command can tell "not given" from "false": that is
//! what lets `agent edit` change only what was given.

use std::path::PathBuf;

use clap::Args;

use crate::agent_input::AgentInput;
use crate::output::OutputFormat;

/// The SSH target of a command that runs on a host.
#[derive(Debug, Clone, Args)]
pub struct TargetArg {
    /// The host to run on, as an SSH destination
    #[arg(value_name = "[user@]host[:port]")]
    pub target: String,
}

/// The service a gRPC command talks to: a stack name in finch.json and its address.
#[derive(Debug, Clone, Args)]
pub struct ServiceArg {
    /// The stack's service name (host[:port]), as stored in finch.json
    #[arg(value_name = "service-name")]
    pub service: String,
}

/// How an SSH command reports its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunFormat {
    /// One dot per step.
    Progress,
    /// One line per step, naming the command and host.
    Documentation,
    /// One JSON object per step on stdout.
    Json,
    /// Nothing.
    Quiet,
}

/// `--run.format` and `--run.dry-run`, taken by every SSH command.
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
    /// Print the steps without running them
    #[arg(long = "run.dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub dry_run: Option<bool>,
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
