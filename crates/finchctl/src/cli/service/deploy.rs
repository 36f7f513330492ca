//! `finchctl service deploy`: installs the stack (Traefik, Grafana, Loki, Mimir, Pyroscope, Alloy, Finch) on a host.
//!
//! Runs over SSH; not built yet, so for now it parses its flags and exits 2.

use clap::Args;

use crate::cli::args::{CustomTlsArgs, RunArgs, TargetArg};
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
    /// Get the certificate from Let's Encrypt
    #[arg(long = "service.letsencrypt", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub letsencrypt: Option<bool>,
    /// The e-mail address for Let's Encrypt
    #[arg(long = "service.letsencrypt.email", value_name = "EMAIL")]
    pub letsencrypt_email: Option<String>,
    /// Custom certificate.
    #[command(flatten)]
    pub tls: CustomTlsArgs,
}

/// Not built yet: exits with status 2.
pub fn run(_args: &DeployArgs, _cx: &Context) -> anyhow::Result<()> {
    Err(not_built("service deploy"))
}
