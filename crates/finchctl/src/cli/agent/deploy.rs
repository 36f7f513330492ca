//! `finchctl agent deploy`: installs Alloy with an agent config on a host.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `agent deploy`.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The agent config to install (from `agent register` or `agent config`)
    #[arg(long = "agent.config", required = true, value_name = "FILE")]
    pub config: std::path::PathBuf,
    /// The Alloy release: latest, or a tag such as v1.18.0
    #[arg(
        long = "alloy.version",
        default_value = "latest",
        value_name = "VERSION"
    )]
    pub alloy_version: String,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &DeployArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("agent deploy"))
}
