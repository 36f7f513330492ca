//! `finchctl service teardown`: removes the stack's containers and network and, unless
//! `--stack.keep-data`, its library (configuration, secrets, database, logs, metrics and
//! profiles). It says what it removes before it does.
//!
//! With `--stack.keep-data` the library stays, so a later deploy brings back the same stack:
//! its id, secret, agents and operators. Docker, its daemon configuration and the images stay
//! either way.

use clap::Args;

use super::host_args::HostArgs;
use super::rollout::Rollout;
use crate::cli::Context;
use crate::cli::args::{RunArgs, TargetArg};
use crate::stack::compose::NETWORK;
use crate::stack::deploy::docker::PROJECT;
use crate::stack::{self, Images};
use crate::target::{Plan, Step};

/// `$1` the compose file: Compose takes down what it started; containers and the network
/// left by a library that is gone go too.
pub const DOWN_SCRIPT: &str = r#"set -e
if [ -f "$1" ]; then $COMPOSE down --remove-orphans; fi
ids=$(docker ps -aq --filter "label=com.docker.compose.project=$2")
if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
if docker network inspect "$3" >/dev/null 2>&1; then docker network rm "$3" >/dev/null; fi"#;

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
    /// The library and the Docker daemon.
    #[command(flatten)]
    pub host_args: HostArgs,
    /// Keep the library (configuration, secrets and data), so a later deploy brings the same
    /// stack back
    #[arg(long = "stack.keep-data", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub keep_data: Option<bool>,
}

/// Removes the stack.
pub async fn run(args: &TeardownArgs, cx: &Context) -> anyhow::Result<()> {
    let rollout = Rollout::new(&args.target, &args.run, cx)?;
    let look = rollout
        .look(
            &args.host_args,
            false,
            &[stack::finch_json::PATH, stack::compose::PATH],
            &Images::pinned(crate::RELEASE),
        )
        .await?;
    let docker = &look.docker;
    let keep = args.keep_data == Some(true);
    let library_note = if keep {
        format!("keeping the library {} (--stack.keep-data)", docker.library)
    } else {
        format!(
            "and the library {} with the stack's secrets, database, logs, metrics and profiles",
            docker.library
        )
    };
    rollout.reporter.note(&format!(
        "Removing the stack's containers and the network {NETWORK:?} on {}, {library_note}",
        rollout.target()
    ));
    let mut plan = Plan::new();
    plan.push(docker.script(
        "Remove the stack's containers and network",
        DOWN_SCRIPT,
        [
            docker.path(stack::compose::PATH),
            PROJECT.to_owned(),
            NETWORK.to_owned(),
        ],
    ));
    if !keep {
        plan.push(Step::run(
            "Remove the library",
            ["rm", "-rf", "--", docker.library.as_str()],
        ));
    }
    rollout.run(&plan).await?;
    if rollout.fleet.dry_run {
        return Ok(());
    }
    // The operators' CAs went with the library: this workstation's entry is of no use.
    let host = look.library.hostname().or_else(|| args.host.clone());
    if let Some(host) = host.filter(|_| !keep) {
        let name = super::operator::service_name(
            &host,
            look.library.ports().unwrap_or_default().https.port,
        );
        let mut profile = cx.load_profile()?;
        if profile.remove(&name) {
            profile.save()?;
            cx.output.status(
                "Removed",
                &format!("{name} from {}", profile.path().display()),
            );
        }
    }
    cx.output
        .status("Removed", &format!("the stack on {}", rollout.target()));
    Ok(())
}
