//! `finchctl agent describe`: an agent's settings, with log-source URIs turned back into
//! flags' terms. `agent edit` prints the same schema.

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;
use serde::Serialize;

use crate::agent_input::AgentSettings;
use crate::cli::Context;
use crate::cli::args::{OutputArgs, ServiceArg};
use crate::client::request;
use crate::output::{Output, table};

/// Flags of `agent describe`.
#[derive(Debug, Clone, Args)]
pub struct DescribeArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// The agent's RID
    #[arg(long = "agent.rid", required = true, value_name = "RID")]
    pub rid: String,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The JSON and YAML schema (1.x's keys, plus `created_at`).
#[derive(Debug, Clone, Serialize)]
pub struct AgentDescription {
    /// The agent's RID.
    pub rid: String,
    /// Its host name.
    pub hostname: String,
    /// `unix` or `windows`.
    pub node: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Log sources.
    pub logs: Logs,
    /// Metrics.
    pub metrics: Metrics,
    /// Profiles.
    pub profiles: Enable,
    /// When it was registered.
    pub created_at: String,
}

/// Log sources.
#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    /// Windows event logs.
    pub events: Vec<String>,
    /// Files.
    pub files: Vec<String>,
    /// The journal.
    pub journal: Enable,
    /// Docker.
    pub docker: Enable,
}

/// An on/off setting.
#[derive(Debug, Clone, Serialize)]
pub struct Enable {
    /// On or off.
    pub enable: bool,
}

/// Metrics.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// On or off.
    pub enable: bool,
    /// Extra scrape targets.
    pub targets: Vec<String>,
}

// === impl AgentDescription ===

impl AgentDescription {
    /// The description of `reply` with `settings` (as returned, or as edited).
    pub fn new(reply: &finch_api::GetAgentResponse, settings: &AgentSettings) -> Self {
        AgentDescription {
            rid: reply.resource_id.clone(),
            hostname: reply.hostname.clone(),
            node: reply.node.clone(),
            labels: settings.labels.clone(),
            logs: Logs {
                events: settings.events.clone(),
                files: settings.files.clone(),
                journal: Enable {
                    enable: settings.journal,
                },
                docker: Enable {
                    enable: settings.docker,
                },
            },
            metrics: Metrics {
                enable: settings.metrics,
                targets: settings.metrics_targets.clone(),
            },
            profiles: Enable {
                enable: settings.profiles,
            },
            created_at: reply.created_at.clone(),
        }
    }

    /// The `Property  Value` table; list rows only when non-empty, as in 1.x.
    pub fn table(&self) -> String {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let mut rows = vec![
            vec!["Resource Identifier".into(), self.rid.clone()],
            vec!["Hostname".into(), self.hostname.clone()],
            vec!["Node".into(), self.node.clone()],
        ];
        if !self.labels.is_empty() {
            rows.push(vec!["Labels".into(), self.labels.join(", ")]);
        }
        rows.push(vec!["Docker".into(), yes_no(self.logs.docker.enable)]);
        rows.push(vec!["Journal".into(), yes_no(self.logs.journal.enable)]);
        if !self.logs.files.is_empty() {
            rows.push(vec!["Files".into(), self.logs.files.join(", ")]);
        }
        if !self.logs.events.is_empty() {
            rows.push(vec!["Events".into(), self.logs.events.join(", ")]);
        }
        rows.push(vec!["Metrics".into(), yes_no(self.metrics.enable)]);
        if !self.metrics.targets.is_empty() {
            rows.push(vec![
                "Metrics targets".into(),
                self.metrics.targets.join(", "),
            ]);
        }
        rows.push(vec!["Profiles".into(), yes_no(self.profiles.enable)]);
        if !self.created_at.is_empty() {
            rows.push(vec!["Created At".into(), self.created_at.clone()]);
        }
        table(Some(&["Property", "Value"]), &rows)
    }
}

/// Settings from a `GetAgent` reply.
pub fn settings_of(reply: &finch_api::GetAgentResponse) -> AgentSettings {
    AgentSettings::from_service(
        reply.labels.clone(),
        &reply.log_sources,
        reply.metrics,
        reply.metrics_targets.clone(),
        reply.profiles,
    )
}

/// Fetches an agent.
pub async fn get_agent(
    client: &mut AgentServiceClient<tonic::transport::Channel>,
    cx: &Context,
    service: &str,
    rid: &str,
) -> anyhow::Result<finch_api::GetAgentResponse> {
    let message = finch_api::GetAgentRequest {
        rid: rid.to_owned(),
    };
    let mut reply = client
        .get_agent(request(message, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, &format!("get agent {rid:?}"), s))?
        .into_inner();
    if reply.resource_id.is_empty() {
        reply.resource_id = rid.to_owned();
    }
    Ok(reply)
}

/// Prints the agent.
pub async fn run(args: &DescribeArgs, cx: &Context) -> anyhow::Result<()> {
    let service = &args.service.service;
    let mut client = AgentServiceClient::new(cx.connect(service).await?);
    let reply = get_agent(&mut client, cx, service, &args.rid).await?;
    let description = AgentDescription::new(&reply, &settings_of(&reply));
    Output {
        format: args.output.format(),
    }
    .data(&description, || description.table())
}
