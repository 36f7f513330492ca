//! `finchctl service rotate-secret`: replaces the stack's token secret.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service rotate-secret`.
#[derive(Debug, Clone, Args)]
pub struct RotateSecretArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &RotateSecretArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service rotate-secret"))
}
