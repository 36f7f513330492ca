//! `finchctl service update`: brings a deployed stack to this release's assets and images.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use super::stack_args::StackArgs;
use crate::cli::args::{CustomTlsArgs, RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service update`.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// Custom certificate.
    #[command(flatten)]
    pub tls: CustomTlsArgs,
    /// Retention and images.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &UpdateArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service update"))
}
