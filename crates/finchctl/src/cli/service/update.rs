//! `finchctl service update`: brings a deployed stack to this release's assets and images, or
//! to new stack flags, with deploy's safety: everything the stack keeps for life stays, only
//! changed files are uploaded, only containers whose files or image changed are recreated.
//!
//! The stack's host name and TLS mode come from the library (`finch.json`, the certificate
//! pair or Traefik's Let's Encrypt address); `--service.customtls` replaces the certificate.

use clap::Args;

use super::rollout::{self, Rendered, Rollout, RolloutArgs};
use super::stack_args::{self, TlsModeArgs};
use crate::cli::Context;
use crate::cli::args::{CustomTlsArgs, RunArgs, TargetArg};
use crate::output::Problem;
use crate::stack::deploy::library;

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
    /// Retention, images, alerts, the library, the Docker daemon and image archives.
    #[command(flatten)]
    pub rollout: RolloutArgs,
}

/// Updates the stack; refuses a host without one.
pub async fn run(args: &UpdateArgs, cx: &Context) -> anyhow::Result<()> {
    let rollout = Rollout::new(&args.target, &args.run, cx)?;
    let images = args.rollout.stack.images()?;
    let archives = rollout::read_archives(&args.rollout)?;
    let look = rollout
        .look(&args.rollout.host, false, &library::KEPT_FILES, &images)
        .await?;
    let now = rollout::now();
    let (host, tls) = if rollout.fleet.dry_run {
        // Nothing was read: a dry run shows the plan for the target's host, self-signed.
        let host = rollout.target_host().to_owned();
        let tls = TlsModeArgs::default().resolve(&host, &look.library.existing(), now)?;
        (host, tls)
    } else {
        let Some(host) = look.library.hostname() else {
            return Err(Problem::failed(format!(
                "there is no stack in {} on {}",
                look.docker.library,
                rollout.target()
            ))
            .hint(format!(
                "deploy one with `finchctl service deploy {}`, or name its library with --service.library",
                rollout.target()
            ))
            .into());
        };
        let tls = if args.tls.customtls == Some(true) {
            TlsModeArgs {
                custom: args.tls.clone(),
                ..TlsModeArgs::default()
            }
            .resolve(&host, &look.library.existing(), now)?
        } else {
            look.library.tls_mode().ok_or_else(|| {
                Problem::failed(format!(
                    "cannot tell how the stack on {} gets its certificate: the library has no certificate pair and Traefik's configuration no Let's Encrypt address",
                    rollout.target()
                ))
                .hint("deploy again with the TLS flags the stack should have")
            })?
        };
        (host, tls)
    };
    let existing = look.library.existing();
    let rendered = Rendered::new(&host, tls, &args.rollout, &existing, &look, now)?;
    stack_args::warn_database_change(
        cx,
        &existing,
        &rendered.settings,
        &format!("on {}", rollout.target()),
    );
    rollout
        .finish(cx, &look, &rendered, &archives, None, false)
        .await
}
