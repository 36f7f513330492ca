//! `finchctl service doctor`: checks that a host can run the stack.
//!
//! Runs over SSH on one or more hosts. For now it reports the transport facts (OS, kernel,
//! architecture, init system, user and sudo); the stack's own checks come with the stack.

use clap::Args;

use crate::cli::Context;
use crate::cli::args::{DoctorOutputArgs, RunArgs, TargetsArg};
use crate::cli::transport;

/// Flags of `service doctor`.
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
}

/// Checks each host and prints what it found.
pub async fn run(args: &DoctorArgs, cx: &Context) -> anyhow::Result<()> {
    transport::doctor(&args.targets.targets, &args.run, &args.targets.ssh, cx).await
}
