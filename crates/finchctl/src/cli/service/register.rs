//! `finchctl service register`: enrolls this workstation as another operator of an existing stack.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service register`.
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &RegisterArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service register"))
}
