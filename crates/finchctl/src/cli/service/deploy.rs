//! `finchctl service deploy`: installs the stack (Traefik, Grafana, Loki, Mimir, Pyroscope, Alloy, Finch) on a host.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use super::stack_args::{StackArgs, TlsModeArgs};
use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service deploy`.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The stack's host name (default: the target's host)
    #[arg(long = "service.host", value_name = "HOST")]
    pub host: Option<String>,
    /// How Traefik gets its certificate.
    #[command(flatten)]
    pub tls: TlsModeArgs,
    /// Retention and images.
    #[command(flatten)]
    pub stack: StackArgs,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &DeployArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service deploy"))
}
