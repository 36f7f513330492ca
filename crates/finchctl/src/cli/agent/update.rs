//! `finchctl agent update`: replaces the agent config and/or the Alloy binary on a host. With
//! `--agent.rid RID --agent.service NAME` it installs a fresh config with a new token, fetched
//! into memory: the renewal path after `service rotate-secret`. The same install as deploy, so
//! it also repairs a host where something was removed.

use clap::Args;

use crate::cli::Context;
use crate::cli::agent::install::{self, InstallArgs};
use crate::cli::args::{RunArgs, TargetArg};

/// Flags of `agent update`.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// What to replace.
    #[command(flatten)]
    pub install: InstallArgs,
}

/// Replaces what changed and restarts Alloy if anything did.
pub async fn run(args: &UpdateArgs, cx: &Context) -> anyhow::Result<()> {
    install::run(&args.target, &args.run, &args.install, cx).await
}
