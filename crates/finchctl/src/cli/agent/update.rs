//! `finchctl agent update`: replaces the agent config and/or the Alloy binary on a host.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `agent update`.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The agent config to install (required unless --skip.config)
    #[arg(
        long = "agent.config",
        value_name = "FILE",
        required_unless_present = "skip_config"
    )]
    pub config: Option<std::path::PathBuf>,
    /// Keep the installed config
    #[arg(long = "skip.config", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub skip_config: Option<bool>,
    /// Keep the installed Alloy binary
    #[arg(long = "skip.binaries", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub skip_binaries: Option<bool>,
    /// The Alloy release: latest, or a tag such as v1.18.0
    #[arg(
        long = "alloy.version",
        default_value = "latest",
        value_name = "VERSION"
    )]
    pub alloy_version: String,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &UpdateArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("agent update"))
}
