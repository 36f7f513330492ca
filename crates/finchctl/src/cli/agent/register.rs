//! `finchctl agent register`: enrolls an agent, prints its RID and writes its config.
//!
//! The config holds the agent's bearer token, so it is written with mode 0600 (1.x: 0644).
//! The RID goes to stdout (1.x printed nothing), so scripts can capture it.

use std::path::PathBuf;

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;
use serde::Serialize;
use tonic::transport::Channel;

use crate::agent_input::{AgentInput, AgentSettings, validate_node};
use crate::cli::Context;
use crate::cli::agent::{DEFAULT_AGENT_CONFIG, write_agent_config};
use crate::cli::args::{AgentInputArgs, OutputArgs, ServiceArg};
use crate::client::request as request_of;
use crate::output::{Output, Problem};

/// The node kind when neither flag nor file names one.
pub const DEFAULT_NODE: &str = "unix";

/// Flags of `agent register`.
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// The agent's host name (required, here or in --agent.file)
    #[arg(long = "agent.hostname", value_name = "HOST")]
    pub hostname: Option<String>,
    /// The agent's settings.
    #[command(flatten)]
    pub spec: AgentInputArgs,
    /// The agent's OS family: unix or windows [default: unix]
    #[arg(long = "agent.node", value_parser = ["unix", "windows"], value_name = "NODE")]
    pub node: Option<String>,
    /// Where to write the agent config (mode 0600; - for stdout)
    #[arg(long = "agent.config", default_value = DEFAULT_AGENT_CONFIG, value_name = "FILE")]
    pub config: PathBuf,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The JSON and YAML schema.
#[derive(Debug, Serialize)]
pub struct Registered {
    /// The new agent's RID.
    pub rid: String,
    /// Where its config was written.
    pub config: PathBuf,
}

/// The request `args` describe, after reading `--agent.file`.
pub fn resolve(args: &RegisterArgs) -> Result<finch_api::RegisterAgentRequest, Problem> {
    let flags = AgentInput {
        hostname: args.hostname.clone(),
        node: args.node.clone(),
        ..args.spec.input()
    };
    request(&given(&args.spec, flags)?)
}

/// What `--agent.file` says, overlaid by `flags` (a flag wins where it was given).
pub fn given(spec: &AgentInputArgs, flags: AgentInput) -> Result<AgentInput, Problem> {
    let file = match &spec.file {
        Some(path) => AgentInput::from_file(path)?,
        None => AgentInput::default(),
    };
    Ok(file.overlay(flags))
}

/// The registration request for `spec`: a hostname, a valid node and settings.
pub fn request(spec: &AgentInput) -> Result<finch_api::RegisterAgentRequest, Problem> {
    let hostname = spec
        .hostname
        .clone()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            Problem::usage(
                "agent hostname is required: give --agent.hostname or hostname in --agent.file",
            )
        })?;
    let node = spec.node.clone().unwrap_or_else(|| DEFAULT_NODE.to_owned());
    validate_node(&node)?;
    let mut settings = AgentSettings::default();
    settings.apply(spec);
    settings.validate()?;
    Ok(finch_api::RegisterAgentRequest {
        hostname,
        log_sources: settings.log_sources(),
        labels: settings.labels,
        metrics: settings.metrics,
        metrics_targets: settings.metrics_targets,
        profiles: settings.profiles,
        node,
    })
}

/// Registers `message` with `service` and returns the new agent's RID.
pub async fn register(
    client: &mut AgentServiceClient<Channel>,
    service: &str,
    message: finch_api::RegisterAgentRequest,
    cx: &Context,
) -> anyhow::Result<String> {
    let hostname = message.hostname.clone();
    let rid = client
        .register_agent(request_of(message, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, &format!("register agent {hostname:?}"), s))?
        .into_inner()
        .rid;
    cx.output
        .status("Registered", &format!("{hostname} as {rid}"));
    Ok(rid)
}

/// Registers the agent, writes its config and prints its RID.
pub async fn run(args: &RegisterArgs, cx: &Context) -> anyhow::Result<()> {
    let message = resolve(args)?;
    let service = &args.service.service;
    let mut client = AgentServiceClient::new(cx.connect(service).await?);
    let rid = register(&mut client, service, message, cx).await?;
    let config = client
        .get_agent_config(request_of(
            finch_api::GetAgentConfigRequest { rid: rid.clone() },
            cx.rpc_timeout(),
        ))
        .await
        .map_err(|s| {
            anyhow::Error::from(
                Problem::failed(format!(
                    "agent {rid} was registered, but its config could not be fetched: {}",
                    s.message()
                ))
                .hint(format!(
                    "fetch it with `finchctl agent config {service} --agent.rid {rid}`"
                )),
            )
        })?
        .into_inner()
        .config;
    write_agent_config(&args.config, &config, cx)?;
    if args.config.as_os_str() == "-" {
        return Ok(());
    }
    let result = Registered {
        rid,
        config: args.config.clone(),
    };
    Output {
        format: args.output.format(),
    }
    .data(&result, || format!("{}\n", result.rid))
}
