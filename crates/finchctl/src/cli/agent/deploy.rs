//! `finchctl agent deploy`: installs Alloy with an agent config on a host, as a service of the
//! host's own service manager (systemd, launchd, rc.d) run by an unprivileged user where the
//! platform allows. Safe to repeat: Alloy restarts only when something changed.

use clap::Args;

use crate::cli::Context;
use crate::cli::agent::install::{self, InstallArgs};
use crate::cli::args::{RunArgs, TargetArg};

/// Flags of `agent deploy`.
#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// What to install.
    #[command(flatten)]
    pub install: InstallArgs,
}

/// Installs the agent.
pub async fn run(args: &DeployArgs, cx: &Context) -> anyhow::Result<()> {
    install::run(&args.target, &args.run, &args.install, cx).await
}
