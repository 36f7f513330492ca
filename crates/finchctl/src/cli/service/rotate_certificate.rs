//! `finchctl service rotate-certificate`: renews this workstation's CA and client certificate
//! on a stack, over SSH. The new CA replaces `certs.d/<RID>.pem`, so the old certificate is
//! refused from then on; 1.x's shared `ca.pem` of its first releases is removed too.

use clap::Args;

use super::on_host::{OnHost, OnHostArgs};
use super::operator_ca::{self, Enrollment};
use crate::cli::Context;
use crate::output::Problem;
use crate::stack::operators;

/// Flags of `service rotate-certificate`.
#[derive(Debug, Clone, Args)]
pub struct RotateCertificateArgs {
    /// The host, step reporting, the library and the Docker daemon.
    #[command(flatten)]
    pub on: OnHostArgs,
}

/// Renews the credentials; the profile must hold the stack.
pub async fn run(args: &RotateCertificateArgs, cx: &Context) -> anyhow::Result<()> {
    let on = OnHost::read(&args.on, false, cx).await?;
    let previous = if on.fleet.dry_run {
        None
    } else {
        let Some(stack) = on.profile_stack(&cx.load_profile()?)? else {
            return Err(Problem::failed(format!(
                "this workstation is not registered with {}",
                on.hostname()?
            ))
            .hint(format!(
                "register it with `finchctl service register {}`",
                args.on.target.target
            ))
            .into());
        };
        Some(stack)
    };
    let enrollment = Enrollment {
        name: previous
            .as_ref()
            .map_or_else(|| on.service_name(), |s| Ok(s.name.clone()))?,
        server_pin: previous.as_ref().and_then(|s| s.server_pin.clone()),
        previous,
        then: vec![operators::remove_legacy_step(&on.docker.library)],
    };
    let name = enrollment.name.clone();
    let rid = operator_ca::install(&on, enrollment, cx).await?;
    if !on.fleet.dry_run {
        cx.output
            .status("Renewed", &format!("the certificate of {rid} for {name}"));
    }
    Ok(())
}
