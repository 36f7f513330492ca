//! `finchctl service teardown`: removes the stack and its data from a host.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service teardown`.
#[derive(Debug, Clone, Args)]
pub struct TeardownArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The stack's host name (accepted for 1.x compatibility; read from the host)
    #[arg(long = "service.host", value_name = "HOST")]
    pub host: Option<String>,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &TeardownArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service teardown"))
}
