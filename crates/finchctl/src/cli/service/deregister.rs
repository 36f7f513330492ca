//! `finchctl service deregister`: revokes an operator client of a stack, over SSH, by removing
//! its CA file `certs.d/<RID>.pem` (Finch reads it on every call, so the next call is refused).
//!
//! The profile changes only when the client revoked is this workstation: then its entry for
//! the stack goes, since the host no longer trusts it. Revoking another client never touches
//! this workstation's credentials (1.x did the reverse, and lost the caller's access).

use clap::Args;

use super::on_host::{OnHost, OnHostArgs};
use crate::cli::Context;
use crate::mtls;
use crate::output::Problem;
use crate::stack::operators;
use crate::target::Plan;

/// Flags of `service deregister`.
#[derive(Debug, Clone, Args)]
pub struct DeregisterArgs {
    /// The host, step reporting, the library and the Docker daemon.
    #[command(flatten)]
    pub on: OnHostArgs,
    /// The client to revoke (default: this machine's RID)
    #[arg(long = "client.rid", value_name = "RID")]
    pub client_rid: Option<String>,
}

/// Revokes the client; forgets the stack locally only when it was this workstation.
pub async fn run(args: &DeregisterArgs, cx: &Context) -> anyhow::Result<()> {
    let own = mtls::local_rid(&cx.env.machine_id_paths);
    let rid = match (&args.client_rid, &own) {
        (Some(rid), _) => rid.clone(),
        (None, Ok(own)) => own.clone(),
        (None, Err(err)) => {
            return Err(Problem::usage(format!("--client.rid not given and {err}"))
                .hint(
                    "give the client to revoke with --client.rid (see `finchctl service clients`)",
                )
                .into());
        }
    };
    operators::check_rid(&rid).map_err(|e| Problem::usage(format!("--client.rid: {e}")))?;
    let on = OnHost::read(&args.on, false, cx).await?;
    let mut plan = Plan::new();
    plan.push(operators::remove_step(&on.docker.library, &rid)?);
    on.apply(&plan).await.map_err(|e| {
        e.context(format!(
            "cannot revoke {rid} on {} (list the clients with `finchctl service clients {}`)",
            args.on.target.target, args.on.target.target
        ))
    })?;
    if on.fleet.dry_run {
        return Ok(());
    }
    cx.output
        .status("Revoked", &format!("{rid} on {}", on.hostname()?));
    if own.as_deref().is_ok_and(|own| *own == rid) {
        let mut profile = cx.load_profile()?;
        if let Some(stack) = on.profile_stack(&profile)? {
            profile.remove(&stack.name);
            profile.save()?;
            cx.output.status(
                "Removed",
                &format!("{} from {}", stack.name, profile.path().display()),
            );
        }
    }
    Ok(())
}
