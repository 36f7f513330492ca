//! `finchctl service deregister`: revokes an operator's client CA on the stack.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service deregister`.
#[derive(Debug, Clone, Args)]
pub struct DeregisterArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The client to revoke (default: this machine's RID)
    #[arg(long = "client.rid", value_name = "RID")]
    pub client_rid: Option<String>,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &DeregisterArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service deregister"))
}
