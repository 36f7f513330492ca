//! `finchctl agent enroll NAME HOST...`: a fleet in one command. NAME is the stack, by its
//! service name in finch.json (1.x's `service-name`, as for `agent register`); each HOST is an
//! SSH target.
//!
//! The service's agents are listed once, over one gRPC connection, before any host is touched.
//! Then each host, at most `--run.parallel` at once and each at its own pace, goes through its
//! run over one SSH connection: read its platform and installed agent ([`AgentHealth`]); skip
//! it when it is enrolled and healthy ([`roster`] says precisely what that means); else
//! register it (or reuse its agent) and fetch its config into memory; then `agent deploy`'s
//! install with that config. No host waits for another: a slow or failing host holds up only
//! itself. The run ends with a table (host, hostname, RID, result) and fails if any host did.

pub mod roster;

use std::collections::HashMap;

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;
use serde::Serialize;
use tokio::sync::Mutex;
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
use crate::target::fleet::Session;
use crate::target::run::PlanError;
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

/// What one host's run came to: a row of the table but for its names.
struct HostResult {
    rid: Option<String>,
    result: &'static str,
    error: Option<String>,
}

/// What every host's run shares.
struct Enroll<'a> {
    args: &'a EnrollArgs,
    cx: &'a Context,
    spec: &'a AgentInput,
    /// The service and its agents (hostname → RID), listed once; none in a dry run.
    service: Option<(AgentServiceClient<Channel>, HashMap<String, String>)>,
    binaries: Mutex<Binaries>,
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
    let binaries = Mutex::new(Binaries::new(&args.alloy)?);
    let service = if fleet.dry_run {
        None
    } else {
        let mut client = AgentServiceClient::new(cx.connect(&args.service).await?);
        let known = known_agents(&mut client, &args.service, cx).await?;
        Some((client, known))
    };
    let enroll = Enroll {
        args,
        cx,
        spec: &spec,
        service,
        binaries,
    };
    let reporter = transport::reporter(&args.run, &fleet, true, cx);
    let runs = fleet
        .each_session(&reporter, async |i, session: &Session| {
            Ok(enroll.host(&members[i], session).await)
        })
        .await?;
    let rows: Vec<Enrolled> = members
        .iter()
        .zip(runs)
        .map(|(member, run)| Enrolled::new(member, run.result))
        .collect();
    finish(&rows, args, fleet.dry_run)
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

// === impl Enroll ===

impl Enroll<'_> {
    /// One host, over one connection: read its platform and installed agent, skip it when it
    /// is enrolled and healthy, else register it (or reuse its agent) and fetch its config
    /// into memory, then install. Every failure is the host's own.
    async fn host(&self, member: &Member, session: &Session) -> HostResult {
        let (probed, health) = match self.read(member, session).await {
            Ok(read) => read,
            Err(error) => return HostResult::failed(None, error),
        };
        let decision = match &self.service {
            Some((_, known)) => roster::decide(&member.hostname, &health, known),
            None => Decision::Register,
        };
        let rid = match decision {
            Decision::Skip { rid } => {
                return HostResult {
                    rid: Some(rid),
                    result: "skipped",
                    error: None,
                };
            }
            Decision::Repair { rid } => Some(rid),
            Decision::Register => None,
        };
        let repair = rid.is_some();
        let (rid, config) = match self.config(member, rid).await {
            Ok(fetched) => fetched,
            Err((rid, error)) => return HostResult::failed(rid, error),
        };
        let binary = self
            .binaries
            .lock()
            .await
            .source(&probed, &member.target, self.cx)
            .await;
        let binary = match binary {
            Ok(binary) => binary,
            Err(error) => return HostResult::failed(rid, format!("{error:#}")),
        };
        let install = Install {
            platform: probed.platform,
            layout: Layout::new(probed.platform.os, member.prefix.as_deref()),
            binary,
            config: Some(config),
            check_ports: self.args.alloy.check_ports == Some(true),
        };
        match session.run(&install.plan()).await {
            Ok(done) => {
                if !session.is_dry_run() {
                    report(session.name(), &done, &install, self.cx);
                }
                HostResult {
                    rid,
                    result: if repair { "repaired" } else { "enrolled" },
                    error: None,
                }
            }
            Err(e) => HostResult::failed(rid, format!("{:#}", e.error)),
        }
    }

    /// The host's platform and installed agent (what a dry run assumes, in a dry run).
    async fn read(
        &self,
        member: &Member,
        session: &Session,
    ) -> Result<(Probed, AgentHealth), String> {
        if session.is_dry_run() {
            return Ok((
                Probed::dry(self.args.alloy.platform),
                AgentHealth::default(),
            ));
        }
        let mut plan = probe_plan(self.binaries.lock().await.download());
        plan.push(AgentHealth::step(member.prefix.as_deref(), &[]));
        let found = session
            .run(&plan)
            .await
            .map_err(|e| format!("{:#}", e.error))?;
        let probed = Probed::read(session.name(), &found, self.args.alloy.platform)
            .map_err(|e| format!("{:#}", anyhow::Error::from(e)))?;
        Ok((
            probed,
            AgentHealth::parse(&step_output(&found, health::STEP)),
        ))
    }

    /// The host's RID and config: `rid` is its agent when the service knows it, else the host
    /// is registered first. A dry run registers nothing and installs an empty config.
    async fn config(
        &self,
        member: &Member,
        rid: Option<String>,
    ) -> Result<(Option<String>, Vec<u8>), (Option<String>, String)> {
        let Some((client, _)) = &self.service else {
            return Ok((rid, Vec::new()));
        };
        let mut client = client.clone();
        let service = self.args.service.as_str();
        let rid = match rid {
            Some(rid) => rid,
            None => {
                let registered =
                    match register::request(&with_hostname(self.spec, &member.hostname)) {
                        Ok(message) => {
                            register::register(&mut client, service, message, self.cx).await
                        }
                        Err(problem) => Err(problem.into()),
                    };
                registered.map_err(|e| (None, format!("{e:#}")))?
            }
        };
        match config::fetch_with(&mut client, service, &rid, self.cx).await {
            Ok(config) => Ok((Some(rid), config)),
            Err(e) => Err((Some(rid), format!("{e:#}"))),
        }
    }
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

// === impl Enrolled ===

impl Enrolled {
    /// The row of `member`, from its run (or why it could not connect).
    fn new(member: &Member, run: Result<HostResult, PlanError>) -> Self {
        let done = run.unwrap_or_else(|e| HostResult::failed(None, format!("{:#}", e.error)));
        Self {
            host: member.target.clone(),
            hostname: member.hostname.clone(),
            rid: done.rid,
            result: done.result,
            error: done.error,
        }
    }
}

// === impl HostResult ===

impl HostResult {
    fn failed(rid: Option<String>, error: String) -> Self {
        Self {
            rid,
            result: "failed",
            error: Some(error),
        }
    }
}
