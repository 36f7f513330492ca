//! `finchctl agent deregister`: removes an agent from the service. Its token stops working on
//! the next request; the host keeps running Alloy until `agent teardown`.

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;
use serde::Serialize;

use crate::cli::Context;
use crate::cli::args::{OutputArgs, ServiceArg};
use crate::client::request;
use crate::output::Output;

/// Flags of `agent deregister`.
#[derive(Debug, Clone, Args)]
pub struct DeregisterArgs {
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

/// The JSON and YAML schema.
#[derive(Debug, Serialize)]
pub struct Deregistered {
    /// The removed agent's RID.
    pub rid: String,
}

/// Deregisters the agent.
pub async fn run(args: &DeregisterArgs, cx: &Context) -> anyhow::Result<()> {
    let service = &args.service.service;
    let channel = cx.connect(service).await?;
    let message = finch_api::DeregisterAgentRequest {
        rid: args.rid.clone(),
    };
    AgentServiceClient::new(channel)
        .deregister_agent(request(message, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, &format!("deregister agent {:?}", args.rid), s))?;
    cx.output.status("Deregistered", &args.rid);
    let result = Deregistered {
        rid: args.rid.clone(),
    };
    Output {
        format: args.output.format(),
    }
    .data(&result, String::new)
}
