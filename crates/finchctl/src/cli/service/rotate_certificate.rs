//! `finchctl service rotate-certificate`: renews this workstation's CA and client certificate.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built};

/// Flags of `service rotate-certificate`.
#[derive(Debug, Clone, Args)]
pub struct RotateCertificateArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &RotateCertificateArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service rotate-certificate"))
}
