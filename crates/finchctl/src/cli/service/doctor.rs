//! `finchctl service doctor`: checks that a host can run the stack.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{DoctorOutputArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Output format.
    #[command(flatten)]
    pub output: DoctorOutputArgs,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &DoctorArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service doctor"))
}
