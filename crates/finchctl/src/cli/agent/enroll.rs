//! `finchctl agent enroll NAME HOST...`: a fleet in one command. NAME is the stack, by its
//! service name in finch.json (1.x's `service-name`, as for `agent register`); each HOST is an
//! SSH target.
//!
//! Three rounds, each parallel over the hosts: one SSH connection per host reads its platform
//! and its installed agent ([`AgentHealth`]); then, over one gRPC connection, the service's
//! agents are listed once and each host that needs it is registered and its config fetched
//! into memory (concurrently, at most `--run.parallel` at once); then each of those hosts gets
//! `agent deploy`'s install with its own config. A host that fails stops nothing else; the run
//! ends with a table (host, hostname, RID, result) and fails if any host did. A re-run skips
//! the hosts that are enrolled and healthy ([`roster`] says precisely what that means).

pub mod roster;

use std::collections::HashMap;
use std::sync::Arc;

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;
use futures_util::StreamExt as _;
use serde::Serialize;
use tonic::transport::Channel;

use crate::agent_input::AgentInput;
use crate::agent_install::health::{self, AgentHealth};
use crate::agent_install::layout::Layout;
use crate::agent_install::plan::Install;
use crate::cli::Context;
use crate::cli::agent::install::{AlloyArgs, Binaries, Probed, probe_plan, report, step_output};
use crate::cli::agent::{config, register};
use crate::cli::args::{AgentInputArgs, OutputArgs, RunArgs, SshArgs};
use crate::cli::transport;
use crate::client::request;
use crate::output::{Output, Problem};
use crate::target::Plan;
use crate::target::fleet::{Fleet, TargetRun};
use crate::target::report::Reporter;
use roster::{Decision, Member};

/// Flags of `agent enroll`.
#[derive(Debug, Clone, Args)]
pub struct EnrollArgs {
    /// The stack's service name (host[:port]), as stored in finch.json
    #[arg(value_name = "NAME")]
    pub service: String,
    /// The hosts: [user@]host[:port] or ssh config aliases
    #[arg(value_name = "HOST", required = true, num_args = 1..)]
    pub targets: Vec<String>,
    /// How to call ssh.
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Step reporting, dry run and parallelism.
    #[command(flatten)]
    pub run: RunArgs,
    /// The agents' settings (hostnames per host under `hosts` in --agent.file).
    #[command(flatten)]
    pub spec: AgentInputArgs,
    /// The agents' OS family: unix or windows [default: unix]
    #[arg(long = "agent.node", value_parser = ["unix", "windows"], value_name = "NODE")]
    pub node: Option<String>,
    /// The binary and where it goes.
    #[command(flatten)]
    pub alloy: AlloyArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One row of the closing table (and of `--output json`).
#[derive(Debug, Clone, Serialize)]
pub struct Enrolled {
    /// The target as given.
    pub host: String,
    /// The agent's hostname in Finch.
    pub hostname: String,
    /// The agent's RID, once known.
    pub rid: Option<String>,
    /// `enrolled`, `repaired`, `skipped` or `failed`.
    pub result: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A host on its way through the rounds.
struct Pending {
    member: Member,
    probed: Probed,
    decision: Decision,
}

/// Enrolls every host; fails, after the table, when any host failed.
pub async fn run(args: &EnrollArgs, cx: &Context) -> anyhow::Result<()> {
    let flags = AgentInput {
        node: args.node.clone(),
        ..args.spec.input()
    };
    let spec = register::given(&args.spec, flags)?;
    let fleet = transport::fleet(&args.targets, &args.run, &args.ssh, cx)?;
    let members = roster::members(
        &fleet.targets,
        spec.hosts.as_ref(),
        args.alloy.prefix.as_deref(),
    )?;
    // Every registration request is checked before any host is touched.
    for m in &members {
        register::request(&with_hostname(&spec, &m.hostname))?;
    }
    let mut binaries = Binaries::new(&args.alloy)?;
    let reporter = transport::reporter(&args.run, &fleet, true, cx);
    let mut rows: Vec<Enrolled> = members.iter().map(Enrolled::new).collect();
    let read = read_hosts(&fleet, &reporter, &members, &binaries, args).await?;
    let known = if fleet.dry_run {
        None
    } else {
        let mut client = AgentServiceClient::new(cx.connect(&args.service).await?);
        Some((known_agents(&mut client, &args.service, cx).await?, client))
    };
    let mut pending = Vec::new();
    for (row, (member, found)) in rows.iter_mut().zip(members.into_iter().zip(read)) {
        let (probed, health) = match found {
            Ok(found) => found,
            Err(error) => {
                row.fail(error);
                continue;
            }
        };
        let decision = match &known {
            Some((agents, _)) => roster::decide(&member.hostname, &health, agents),
            None => Decision::Register,
        };
        if let Decision::Skip { rid } = &decision {
            row.rid = Some(rid.clone());
            row.result = "skipped";
            continue;
        }
        pending.push(Pending {
            member,
            probed,
            decision,
        });
    }
    let configs = match known {
        Some((_, client)) => fetch_configs(client, &pending, &spec, args, cx).await,
        None => pending.iter().map(|_| (None, Ok(Vec::new()))).collect(),
    };
    install(
        &fleet,
        &reporter,
        pending,
        configs,
        &mut binaries,
        args,
        &mut rows,
        cx,
    )
    .await?;
    finish(&rows, args, fleet.dry_run)
}

/// Round one: each host's platform and installed agent, or why it could not be read.
async fn read_hosts(
    fleet: &Fleet,
    reporter: &Reporter,
    members: &[Member],
    binaries: &Binaries,
    args: &EnrollArgs,
) -> anyhow::Result<Vec<Result<(Probed, AgentHealth), String>>> {
    if fleet.dry_run {
        let dry = || Ok((Probed::dry(args.alloy.platform), AgentHealth::default()));
        return Ok(members.iter().map(|_| dry()).collect());
    }
    let plans: Vec<Arc<Plan>> = members
        .iter()
        .map(|m| {
            let mut plan = probe_plan(binaries.download());
            plan.push(AgentHealth::step(m.prefix.as_deref(), &[]));
            Arc::new(plan)
        })
        .collect();
    let runs = fleet.run_each(&plans, reporter).await?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let found = run.result.map_err(|e| format!("{:#}", e.error))?;
            let probed = Probed::read(&run.target, &found, args.alloy.platform)
                .map_err(|e| format!("{:#}", anyhow::Error::from(e)))?;
            let health = AgentHealth::parse(&step_output(&found, health::STEP));
            Ok((probed, health))
        })
        .collect())
}

/// The service's agents, hostname → RID.
async fn known_agents(
    client: &mut AgentServiceClient<Channel>,
    service: &str,
    cx: &Context,
) -> anyhow::Result<HashMap<String, String>> {
    let agents = client
        .list_agents(request(finch_api::ListAgentsRequest {}, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, "list agents", s))?
        .into_inner()
        .agents;
    Ok(agents.into_iter().map(|a| (a.hostname, a.rid)).collect())
}

/// A pending host's RID (when known) and config, or why there is none.
type Fetched = (Option<String>, Result<Vec<u8>, String>);

/// Round two: registers the hosts that need it and fetches each pending host's config into
/// memory, at most `--run.parallel` requests at once on one connection.
async fn fetch_configs(
    client: AgentServiceClient<Channel>,
    pending: &[Pending],
    spec: &AgentInput,
    args: &EnrollArgs,
    cx: &Context,
) -> Vec<Fetched> {
    let service = args.service.as_str();
    let jobs = pending.iter().map(|p| {
        let mut client = client.clone();
        async move {
            let rid = match &p.decision {
                Decision::Repair { rid } | Decision::Skip { rid } => rid.clone(),
                Decision::Register => {
                    let message = register::request(&with_hostname(spec, &p.member.hostname));
                    let registered = match message {
                        Ok(m) => register::register(&mut client, service, m, cx).await,
                        Err(problem) => Err(problem.into()),
                    };
                    match registered {
                        Ok(rid) => rid,
                        Err(e) => return (None, Err(format!("{e:#}"))),
                    }
                }
            };
            let fetched = config::fetch_with(&mut client, service, &rid, cx).await;
            (Some(rid), fetched.map_err(|e| format!("{e:#}")))
        }
    });
    futures_util::stream::iter(jobs)
        .buffered(args.run.parallel.max(1))
        .collect()
        .await
}

/// Round three: each pending host whose config is in hand gets the install.
#[allow(clippy::too_many_arguments)]
async fn install(
    fleet: &Fleet,
    reporter: &Reporter,
    pending: Vec<Pending>,
    configs: Vec<Fetched>,
    binaries: &mut Binaries,
    args: &EnrollArgs,
    rows: &mut [Enrolled],
    cx: &Context,
) -> anyhow::Result<()> {
    let mut targets = Vec::new();
    let mut installs = Vec::new();
    for (p, (rid, fetched)) in pending.into_iter().zip(configs) {
        let row = row_of(rows, &p.member.target);
        row.rid = rid;
        let config = match fetched {
            Ok(config) => config,
            Err(error) => {
                row.fail(error);
                continue;
            }
        };
        let binary = match binaries.source(&p.probed, &p.member.target, cx).await {
            Ok(binary) => binary,
            Err(error) => {
                row.fail(format!("{error:#}"));
                continue;
            }
        };
        let spec = fleet.targets.iter().find(|t| t.raw == p.member.target);
        targets.extend(spec.cloned());
        let layout = Layout::new(p.probed.platform.os, p.member.prefix.as_deref());
        let install = Install {
            platform: p.probed.platform,
            layout,
            binary,
            config: Some(config),
            check_ports: args.alloy.check_ports == Some(true),
        };
        installs.push((install, p.decision));
    }
    let sub = Fleet {
        targets,
        ..fleet.clone()
    };
    let plans: Vec<Arc<Plan>> = installs.iter().map(|(i, _)| Arc::new(i.plan())).collect();
    let runs: Vec<TargetRun> = sub.run_each(&plans, reporter).await?;
    for (run, (install, decision)) in runs.into_iter().zip(&installs) {
        let row = row_of(rows, &run.target);
        match run.result {
            Ok(done) => {
                if !fleet.dry_run {
                    report(&run.target, &done, install, cx);
                }
                row.result = match decision {
                    Decision::Repair { .. } => "repaired",
                    _ => "enrolled",
                };
            }
            Err(e) => row.fail(format!("{:#}", e.error)),
        }
    }
    Ok(())
}

/// Prints the table (or JSON) and fails when any host did.
fn finish(rows: &[Enrolled], args: &EnrollArgs, dry_run: bool) -> anyhow::Result<()> {
    if !dry_run {
        Output {
            format: args.output.format(),
        }
        .data(&rows, || table(rows))?;
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| r.result == "failed")
        .map(|r| r.host.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(Problem::failed(format!(
        "{} of {} hosts failed: {}",
        failed.len(),
        rows.len(),
        failed.join(", ")
    ))
    .hint("fix those hosts and run the same command again: the enrolled ones are skipped")
    .into())
}

/// The table: host, hostname, RID, result (with the error of a failed host).
pub fn table(rows: &[Enrolled]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let result = match &r.error {
                Some(e) => format!("{}: {e}", r.result),
                None => r.result.to_owned(),
            };
            vec![
                r.host.clone(),
                r.hostname.clone(),
                r.rid.clone().unwrap_or_else(|| "-".to_owned()),
                result,
            ]
        })
        .collect();
    crate::output::table(Some(&["HOST", "HOSTNAME", "RID", "RESULT"]), &cells)
}

/// `spec` for one host.
fn with_hostname(spec: &AgentInput, hostname: &str) -> AgentInput {
    AgentInput {
        hostname: Some(hostname.to_owned()),
        hosts: None,
        ..spec.clone()
    }
}

fn row_of<'a>(rows: &'a mut [Enrolled], target: &str) -> &'a mut Enrolled {
    let index = rows.iter().position(|r| r.host == target).unwrap_or(0);
    &mut rows[index]
}

// === impl Enrolled ===

impl Enrolled {
    fn new(m: &Member) -> Self {
        Self {
            host: m.target.clone(),
            hostname: m.hostname.clone(),
            rid: None,
            result: "pending",
            error: None,
        }
    }

    fn fail(&mut self, error: String) {
        self.result = "failed";
        self.error = Some(error);
    }
}
