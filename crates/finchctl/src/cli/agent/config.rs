//! `finchctl agent config`: fetches a freshly rendered agent config. The service mints a new
//! token each time, so this is also how an agent's token is renewed.

use std::path::PathBuf;

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;
use serde::Serialize;
use tonic::transport::Channel;

use crate::cli::Context;
use crate::cli::agent::{DEFAULT_AGENT_CONFIG, write_agent_config};
use crate::cli::args::{OutputArgs, ServiceArg};
use crate::client::request;
use crate::output::Output;

/// Flags of `agent config`.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// The agent's RID
    #[arg(long = "agent.rid", required = true, value_name = "RID")]
    pub rid: String,
    /// Where to write the config (mode 0600; - for stdout)
    #[arg(long = "agent.config", default_value = DEFAULT_AGENT_CONFIG, value_name = "FILE")]
    pub config: PathBuf,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The JSON and YAML schema.
#[derive(Debug, Serialize)]
pub struct ConfigWritten {
    /// The agent's RID.
    pub rid: String,
    /// Where the config was written.
    pub config: PathBuf,
}

/// Fetches a fresh config (a new token) into memory: `agent deploy` and `update` upload it
/// from there, so the token never touches the workstation's disk.
pub async fn fetch(cx: &Context, service: &str, rid: &str) -> anyhow::Result<Vec<u8>> {
    let mut client = AgentServiceClient::new(cx.connect(service).await?);
    fetch_with(&mut client, service, rid, cx).await
}

/// [`fetch`] over an open client (`agent enroll` fetches many on one connection).
pub async fn fetch_with(
    client: &mut AgentServiceClient<Channel>,
    service: &str,
    rid: &str,
    cx: &Context,
) -> anyhow::Result<Vec<u8>> {
    let message = finch_api::GetAgentConfigRequest {
        rid: rid.to_owned(),
    };
    let reply = client
        .get_agent_config(request(message, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, &format!("get the config of agent {rid:?}"), s))?
        .into_inner();
    Ok(reply.config)
}

/// Fetches and writes the config.
pub async fn run(args: &ConfigArgs, cx: &Context) -> anyhow::Result<()> {
    let config = fetch(cx, &args.service.service, &args.rid).await?;
    write_agent_config(&args.config, &config, cx)?;
    if args.config.as_os_str() == "-" {
        return Ok(());
    }
    let result = ConfigWritten {
        rid: args.rid.clone(),
        config: args.config.clone(),
    };
    Output {
        format: args.output.format(),
    }
    .data(&result, String::new)
}
