//! `finchctl agent doctor`: checks that a host can run an agent.
//!
//! Runs over SSH on one or more hosts. For now it reports the transport facts (OS, kernel,
//! architecture, init system, user and sudo); the agent's own checks come with agent deploy.

use clap::Args;

use crate::cli::Context;
use crate::cli::args::{DoctorOutputArgs, RunArgs, TargetsArg};
use crate::cli::transport;

/// Flags of `agent doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The hosts.
    #[command(flatten)]
    pub targets: TargetsArg,
    /// Step reporting, dry run and parallelism.
    #[command(flatten)]
    pub run: RunArgs,
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

/// Checks each host and prints what it found.
pub async fn run(args: &DoctorArgs, cx: &Context) -> anyhow::Result<()> {
    transport::doctor(&args.targets.targets, &args.run, &args.targets.ssh, cx).await
}
