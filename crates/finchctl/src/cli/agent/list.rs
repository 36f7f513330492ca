//! `finchctl agent list`: the service's agents.

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;
use serde::Serialize;

use crate::cli::Context;
use crate::cli::args::{OutputArgs, ServiceArg};
use crate::client::request;
use crate::output::{Output, OutputFormat, table};

/// Flags of `agent list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One agent in the JSON and YAML list (1.x's keys).
#[derive(Debug, Serialize)]
pub struct AgentItem {
    /// The agent's host name.
    pub hostname: String,
    /// The agent's RID.
    pub rid: String,
}

/// The largest agent list accepted: about 90 bytes an agent, so room for a million agents.
/// gRPC's default of 4 MiB stops at about 45,000.
pub const MAX_LIST_BYTES: usize = 128 * 1024 * 1024;

/// Lists the agents; an empty list is `[]` in JSON (1.x printed text, B13).
pub async fn run(args: &ListArgs, cx: &Context) -> anyhow::Result<()> {
    let service = &args.service.service;
    let channel = cx.connect(service).await?;
    let reply = AgentServiceClient::new(channel)
        .max_decoding_message_size(MAX_LIST_BYTES)
        .list_agents(request(finch_api::ListAgentsRequest {}, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, "list agents", s))?
        .into_inner();
    let agents: Vec<AgentItem> = reply
        .agents
        .into_iter()
        .map(|a| AgentItem {
            hostname: a.hostname,
            rid: a.rid,
        })
        .collect();
    let format = args.output.format();
    if agents.is_empty() && format == OutputFormat::Table {
        eprintln!("No agents registered with this service.");
        return Ok(());
    }
    Output { format }.data(&agents, || {
        let rows: Vec<Vec<String>> = agents
            .iter()
            .enumerate()
            .map(|(i, a)| vec![(i + 1).to_string(), a.hostname.clone(), a.rid.clone()])
            .collect();
        table(Some(&["#", "Hostname", "Resource Identifier"]), &rows)
    })
}
