//! `finchctl agent doctor`: checks that a host can run an agent.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{DoctorOutputArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `agent doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Output format.
    #[command(flatten)]
    pub output: DoctorOutputArgs,
    /// Also check that Alloy's ports are free
    #[arg(long = "check.ports", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub check_ports: Option<bool>,
    /// Also check the optional tools (curl, unzip, GitHub access)
    #[arg(long = "check.optionals", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub check_optionals: Option<bool>,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &DoctorArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("agent doctor"))
}
