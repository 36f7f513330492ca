//! `finchctl service deploy`: installs the stack (Traefik, Grafana, Loki, Mimir, Pyroscope,
//! Alloy, Finch) on a host, or brings an existing one to these flags, safely repeatable.
//!
//! A repeat keeps what the stack keeps for life (id, token secret, database, Grafana password,
//! operator CAs, a self-signed certificate that still serves the host) unless `--stack.reset`
//! says otherwise, uploads only changed files and recreates only containers whose files or
//! image changed. On a new stack this workstation becomes its first operator: a new CA goes
//! into the library and the client certificate into the profile, with the self-signed
//! certificate pinned, so the next command needs no `--tls.skip-verify`.

use clap::Args;

use super::rollout::{self, NewOperator, Rendered, Rollout, RolloutArgs};
use super::stack_args::{self, TlsModeArgs};
use crate::cli::Context;
use crate::cli::args::{RunArgs, TargetArg};
use crate::mtls;
use crate::output::Problem;
use crate::stack::deploy::library;
use crate::stack::{self, Existing};

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
    /// Retention, images, alerts, the library, the Docker daemon and image archives.
    #[command(flatten)]
    pub rollout: RolloutArgs,
    /// Install Docker and Compose from the distribution's packages (apt-get install docker.io
    /// docker-compose) when the host lacks them, instead of stopping
    #[arg(long = "docker.install", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub install: Option<bool>,
    /// Start over: a new id, token secret, database, Grafana password and operator CAs (every
    /// agent and operator must enroll again)
    #[arg(long = "stack.reset", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub reset: Option<bool>,
}

/// Deploys the stack.
pub async fn run(args: &DeployArgs, cx: &Context) -> anyhow::Result<()> {
    let rollout = Rollout::new(&args.target, &args.run, cx)?;
    let host = args
        .host
        .clone()
        .unwrap_or_else(|| rollout.target_host().to_owned());
    stack::check_host(&host).map_err(|e| Problem::usage(e.to_string()))?;
    let images = args.rollout.stack.images()?;
    let archives = rollout::read_archives(&args.rollout)?;
    let look = rollout
        .look(
            &args.rollout.host,
            args.install == Some(true),
            &library::KEPT_FILES,
            &images,
        )
        .await?;
    let reset = args.reset == Some(true);
    let fresh = !look.library.files.contains_key(stack::finch_json::PATH);
    if reset && !fresh {
        cx.output.warn(&format!(
            "--stack.reset: the stack on {} gets a new id, token secret, database, Grafana password and operator CAs; every agent and operator must enroll again",
            rollout.target()
        ));
    }
    let existing = if reset {
        Existing::default()
    } else {
        look.library.existing()
    };
    let now = rollout::now();
    let tls = args.tls.resolve(&host, &existing, now)?;
    let rendered = Rendered::new(&host, tls, &args.rollout, &existing, &look, now)?;
    stack_args::warn_database_change(
        cx,
        &existing,
        &rendered.settings,
        &format!("on {}", rollout.target()),
    );
    // A new stack, or one started over, makes this workstation its first operator.
    let operator = if fresh || reset {
        let rid = mtls::local_rid(&cx.env.machine_id_paths)?;
        let credentials = mtls::generate(&rendered.name, &rid, now)?;
        Some(NewOperator { rid, credentials })
    } else {
        None
    };
    rollout
        .finish(
            cx,
            &look,
            &rendered,
            &archives,
            operator.as_ref(),
            reset && !fresh,
        )
        .await
}
