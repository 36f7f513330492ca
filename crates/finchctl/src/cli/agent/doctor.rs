//! `finchctl agent doctor`: checks that a host can run an agent, and how the agent it runs is.
//!
//! One connection per host (several hosts at once, `--run.parallel`) reads the transport
//! facts (OS, kernel, architecture, init system, user, sudo), then, as root, the installed
//! agent ([`AgentHealth`]): whether Alloy runs and which version, its ports with
//! `--check.ports`, and the expiry of its config's token (read on the host; only the claims
//! leave it). The stack is then asked over gRPC whether it still knows the agent's RID, when
//! the operator's profile has that stack ("unknown" otherwise). `--check.optionals` also asks
//! whether the host can download the pinned Alloy itself.

pub mod findings;

use clap::Args;
use serde::Serialize;

use crate::agent_install::health::{self, AgentHealth};
use crate::agent_install::layout::check_prefix;
use crate::agent_install::plan::PORTS;
use crate::agent_install::release::{self, DEFAULT_MIRROR, Release};
use crate::cli::Context;
use crate::cli::agent::install::step_output;
use crate::cli::agent::registration::registration;
use crate::cli::args::{DoctorOutputArgs, RunArgs, TargetsArg};
use crate::cli::transport;
use crate::output::{Output, Problem};
use crate::stack::images::ALLOY_VERSION;
use crate::target::facts::{self, TransportFacts};
use crate::target::fleet;
use crate::target::run::PlanRun;
use findings::AgentFacts;

/// Flags of `agent doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The hosts.
    #[command(flatten)]
    pub targets: TargetsArg,
    /// Step reporting, dry run and parallelism.
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format.
    #[command(flatten)]
    pub output: DoctorOutputArgs,
    /// Also check Alloy's ports (12345, 3100): listening, or free for an install
    #[arg(long = "check.ports", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub check_ports: Option<bool>,
    /// Also check that the host can download the pinned Alloy itself (curl, unzip, the release server)
    #[arg(long = "check.optionals", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub check_optionals: Option<bool>,
    /// The directory the agent was deployed under (deploy's --agent.prefix)
    #[arg(long = "agent.prefix", value_name = "DIR")]
    pub prefix: Option<String>,
    /// The stack to ask about the agent's RID (default: the host its config sends to)
    #[arg(long = "agent.service", value_name = "NAME")]
    pub service: Option<String>,
}

/// One host's report (the JSON schema; the transport facts are flattened in).
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    /// OS, kernel, architecture, init, user, sudo.
    #[serde(flatten)]
    pub facts: TransportFacts,
    /// With `--check.optionals`: whether the host can download Alloy itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloads: Option<bool>,
    /// The agent, when the host could be read as root.
    pub agent: Option<AgentFacts>,
    /// What is wrong, with what to do.
    pub problems: Vec<String>,
}

/// Checks each host and prints what it found; fails when a host is unreachable or has a
/// problem.
pub async fn run(args: &DoctorArgs, cx: &Context) -> anyhow::Result<()> {
    if let Some(prefix) = &args.prefix {
        check_prefix(prefix).map_err(Problem::usage)?;
    }
    let fleet = transport::fleet(&args.targets.targets, &args.run, &args.targets.ssh, cx)?;
    let reporter = transport::reporter(&args.run, &fleet, true, cx);
    let optionals = args.check_optionals == Some(true);
    let mut plan = facts::plan();
    if optionals {
        plan.push(Release::new(ALLOY_VERSION, DEFAULT_MIRROR)?.reach_step());
    }
    let ports: &[u16] = if args.check_ports == Some(true) {
        &PORTS
    } else {
        &[]
    };
    plan.push(AgentHealth::step(args.prefix.as_deref(), ports));
    let runs = fleet.run(&plan, &reporter).await?;
    if runs.len() > 1 {
        reporter.note(&fleet::summary(&runs));
    }
    if fleet.dry_run {
        return fleet::outcome(runs).1.map_or(Ok(()), Err);
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut reports = Vec::new();
    let mut unreachable = Vec::new();
    for run in runs {
        let (steps, error) = match run.result {
            Ok(done) => (done.steps, None),
            Err(e) => (e.steps, Some(e.error)),
        };
        let done = PlanRun {
            steps,
            identity: None,
        };
        if done.steps.is_empty() {
            unreachable.push((
                run.target,
                error.unwrap_or_else(|| Problem::failed("no step ran").into()),
            ));
            continue;
        }
        reports.push(report(&run.target, &done, optionals, now, args, cx).await);
    }
    if !reports.is_empty() {
        Output {
            format: args.output.format(),
        }
        .data(&reports, || table(&reports))?;
    }
    verdict(&reports, unreachable)
}

/// One host's report from its run (`done` holds the steps that ran).
async fn report(
    target: &str,
    done: &PlanRun,
    optionals: bool,
    now: i64,
    args: &DoctorArgs,
    cx: &Context,
) -> HostReport {
    let facts = facts::from_run(target, done);
    let mut problems = Vec::new();
    if !facts.ok {
        problems.push("cannot run root steps: connect as root, or allow the user passwordless sudo (NOPASSWD in /etc/sudoers.d)".to_owned());
    }
    let downloads = optionals.then(|| step_output(done, release::REACH_STEP).trim() == "reachable");
    if downloads == Some(false) {
        problems.push(format!(
            "cannot download Alloy itself (curl, unzip, a route to {DEFAULT_MIRROR}): deploys fetch it on the workstation"
        ));
    }
    let read = done.steps.iter().any(|s| s.name == health::STEP);
    let agent = if read && facts.ok {
        let health = AgentHealth::parse(&step_output(done, health::STEP));
        let mut agent = AgentFacts::new(&health, now);
        let service = args.service.as_deref().or(health.stack.as_deref());
        if let (Some(rid), Some(service)) = (health.rid.as_deref(), service) {
            agent.registered = Some(registration(rid, service, cx).await.word());
        }
        problems.extend(agent.problems());
        Some(agent)
    } else {
        None
    };
    HostReport {
        facts,
        downloads,
        agent,
        problems,
    }
}

/// Fails when a host could not be reached or has a problem.
/// A lone unreachable host keeps its own error, with its hint (a changed host key says how to
/// forget the old one).
fn verdict(
    reports: &[HostReport],
    mut unreachable: Vec<(String, anyhow::Error)>,
) -> anyhow::Result<()> {
    if reports.is_empty()
        && unreachable.len() == 1
        && let Some((_, error)) = unreachable.pop()
    {
        return Err(error);
    }
    let mut failed: Vec<String> = unreachable
        .iter()
        .map(|(target, error)| format!("{target}: {error:#}"))
        .collect();
    for r in reports {
        for p in &r.problems {
            failed.push(format!("{}: {p}", r.facts.target));
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(Problem::failed(failed.join("\n")).into())
}

/// The transport table, then one row per agent.
pub fn table(reports: &[HostReport]) -> String {
    let found: Vec<TransportFacts> = reports.iter().map(|r| r.facts.clone()).collect();
    let mut out = facts::table(&found);
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let dash = || "-".to_owned();
            let Some(a) = &r.agent else {
                return vec![r.facts.target.clone(), "unknown".to_owned()];
            };
            let alloy = match (a.installed, a.running) {
                (false, _) => "not installed",
                (true, true) => "running",
                (true, false) => "stopped",
            };
            let ports: Vec<String> = a.ports.iter().map(|(p, s)| format!("{p} {s}")).collect();
            vec![
                r.facts.target.clone(),
                alloy.to_owned(),
                a.version.clone().unwrap_or_else(dash),
                a.rid.clone().unwrap_or_else(dash),
                a.registered.unwrap_or("-").to_owned(),
                a.token(),
                if ports.is_empty() {
                    dash()
                } else {
                    ports.join(", ")
                },
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&crate::output::table(
        Some(&[
            "TARGET",
            "ALLOY",
            "VERSION",
            "RID",
            "REGISTERED",
            "TOKEN",
            "PORTS",
        ]),
        &rows,
    ));
    out
}
