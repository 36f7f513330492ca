//! `finchctl service deploy`: installs the stack (Traefik, Grafana, Loki, Mimir, Pyroscope, Alloy, Finch) on a host.
//!
//! Runs over SSH. Built so far: the requirements, so a host without Docker or Compose is
//! refused with what to install before anything on it changes; past them it still exits 2,
//! "not built yet".

use clap::Args;

use super::stack_args::{StackArgs, TlsModeArgs};
use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::{Context, not_built, transport};
use crate::stack::deploy::requirements;
use crate::target::fleet;

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

/// Checks the host's requirements; the rest is not built yet (exit 2).
pub async fn run(args: &DeployArgs, cx: &Context) -> anyhow::Result<()> {
    let target = std::slice::from_ref(&args.target.target);
    let fleet = transport::fleet(target, &args.run, &args.target.ssh, cx)?;
    let reporter = transport::reporter(&args.run, &fleet, false, cx);
    let mut plan = crate::target::Plan::new();
    plan.push(requirements::step());
    let (ok, error) = fleet::outcome(fleet.run(&plan, &reporter).await?);
    if let Some(error) = error {
        return Err(error);
    }
    if !fleet.dry_run {
        for (name, run) in &ok {
            let probe = run
                .steps
                .iter()
                .find(|s| s.name == requirements::STEP)
                .map(|s| s.stdout.as_str())
                .unwrap_or_default();
            requirements::from_probe(name, probe)?;
        }
    }
    Err(not_built("service deploy"))
}
