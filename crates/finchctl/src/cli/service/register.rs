//! `finchctl service register`: enrolls this workstation as another operator of an existing
//! stack, over SSH: its own CA on the host as `certs.d/<RID>.pem`, its certificate and key in
//! the profile, and for a self-signed stack the server certificate's pin, so the gRPC
//! commands work at once without `--tls.skip-verify`.

use clap::Args;

use super::on_host::{OnHost, OnHostArgs};
use super::operator_ca::{self, Enrollment};
use crate::cli::Context;
use crate::output::Problem;

/// Flags of `service register`.
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// The host, step reporting, the library and the Docker daemon.
    #[command(flatten)]
    pub on: OnHostArgs,
}

/// Registers this workstation; refuses when the profile already has the stack.
pub async fn run(args: &RegisterArgs, cx: &Context) -> anyhow::Result<()> {
    let on = OnHost::read(&args.on, false, cx).await?;
    let name = on.service_name()?;
    if !on.fleet.dry_run
        && let Some(stack) = on.profile_stack(&cx.load_profile()?)?
    {
        return Err(Problem::failed(format!(
            "this workstation is already registered with {} (as {:?})",
            on.hostname()?,
            stack.name
        ))
        .hint(format!(
            "renew its certificate with `finchctl service rotate-certificate {}`",
            args.on.target.target
        ))
        .into());
    }
    let enrollment = Enrollment {
        server_pin: operator_ca::self_signed_pin(&on),
        name: name.clone(),
        previous: None,
        then: Vec::new(),
    };
    let rid = operator_ca::install(&on, enrollment, cx).await?;
    if !on.fleet.dry_run {
        cx.output
            .status("Registered", &format!("{rid} with {name}"));
    }
    Ok(())
}
