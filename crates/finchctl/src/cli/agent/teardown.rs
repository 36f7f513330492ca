//! `finchctl agent teardown`: removes Alloy from a host: its service, binary, config, data
//! and user. The agent stays registered with Finch until `agent deregister`; teardown reads the
//! RID from the installed config first and says whether the service still knows it.

use clap::Args;

use crate::agent_install::layout::{Layout, check_prefix};
use crate::agent_install::plan::{READ_RID_STEP, teardown};
use crate::agent_install::platform::Platform;
use crate::cli::Context;
use crate::cli::agent::install::{probe, step_output};
use crate::cli::agent::registration::{Registration, registration};
use crate::cli::args::{RunArgs, TargetArg};
use crate::cli::transport;
use crate::output::Problem;
use crate::target::fleet;

/// Flags of `agent teardown`.
#[derive(Debug, Clone, Args)]
pub struct TeardownArgs {
    /// The host.
    #[command(flatten)]
    pub target: TargetArg,
    /// Step reporting and dry run.
    #[command(flatten)]
    pub run: RunArgs,
    /// The directory the agent was deployed under (deploy's --agent.prefix)
    #[arg(long = "agent.prefix", value_name = "DIR")]
    pub prefix: Option<String>,
    /// The stack to ask whether the agent is still registered (default: the host its config sends to)
    #[arg(long = "agent.service", value_name = "NAME")]
    pub service: Option<String>,
    /// The host's platform for a dry run, such as darwin-arm64 (a real run reads it from the host)
    #[arg(long = "agent.platform", value_name = "OS-ARCH", value_parser = Platform::parse)]
    pub platform: Option<Platform>,
}

/// Removes the agent, then reports whether it is still registered.
pub async fn run(args: &TeardownArgs, cx: &Context) -> anyhow::Result<()> {
    if let Some(prefix) = &args.prefix {
        check_prefix(prefix).map_err(Problem::usage)?;
    }
    let target = std::slice::from_ref(&args.target.target);
    let fleet = transport::fleet(target, &args.run, &args.target.ssh, cx)?;
    let reporter = transport::reporter(&args.run, &fleet, false, cx);
    let probed = probe(&fleet, &reporter, args.platform, None).await?;
    let layout = Layout::new(probed.platform.os, args.prefix.as_deref());
    let (ok, error) = fleet::outcome(fleet.run(&teardown(&layout), &reporter).await?);
    if let Some(error) = error {
        return Err(error);
    }
    if fleet.dry_run {
        return Ok(());
    }
    for (host, run) in &ok {
        cx.output
            .status("Removed", &format!("{} from {host}", layout.service));
        let found = step_output(run, READ_RID_STEP);
        match found.split_once(' ') {
            Some((rid, service)) if !rid.is_empty() && !service.is_empty() => {
                let service = args.service.as_deref().unwrap_or(service);
                report_registration(rid, service, cx).await;
            }
            _ => cx.output.warn(&format!(
                "{host} had no agent config to read the RID from: check `finchctl agent list <service>` for an agent to deregister"
            )),
        }
    }
    Ok(())
}

/// Says whether `service` still knows `rid`, or why that cannot be told.
async fn report_registration(rid: &str, service: &str, cx: &Context) {
    let deregister = format!("finchctl agent deregister {service} --agent.rid {rid}");
    match registration(rid, service, cx).await {
        Registration::Registered => cx.output.warn(&format!(
            "agent {rid} is still registered with {service}: remove it with `{deregister}`"
        )),
        Registration::NotRegistered => cx
            .output
            .status("Checked", &format!("agent {rid} is not registered with {service}")),
        Registration::Unknown(why) => cx.output.warn(&format!(
            "cannot tell whether agent {rid} is still registered with {service} ({why}); to remove it there: `{deregister}`"
        )),
    }
}
