//! `finchctl agent edit`: changes only the settings that were given.
//!
//! It reads the agent, applies the flags and `--agent.file` fields that were given, and sends
//! the result, because `UpdateAgent` replaces all settings. (1.x sent its defaults for
//! everything and ignored the edit flags, B2.) Host name and node cannot change. The host keeps
//! its old config until `agent config` and `agent update` push the new one.

use clap::Args;
use finch_api::agent_service_client::AgentServiceClient;

use crate::agent_input::AgentInput;
use crate::cli::Context;
use crate::cli::agent::describe::{AgentDescription, get_agent, settings_of};
use crate::cli::args::{AgentInputArgs, OutputArgs, ServiceArg};
use crate::client::request;
use crate::output::{Output, OutputFormat, Problem};

/// Flags of `agent edit`.
#[derive(Debug, Clone, Args)]
pub struct EditArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// The agent's RID (required, here or as rid in --agent.file)
    #[arg(long = "agent.rid", value_name = "RID")]
    pub rid: Option<String>,
    /// The settings to change.
    #[command(flatten)]
    pub spec: AgentInputArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The given settings and the RID, after reading `--agent.file`.
pub fn resolve(args: &EditArgs) -> Result<(String, AgentInput), Problem> {
    let file = match &args.spec.file {
        Some(path) => AgentInput::from_file(path)?,
        None => AgentInput::default(),
    };
    let flags = AgentInput {
        rid: args.rid.clone(),
        ..args.spec.input()
    };
    let spec = file.overlay(flags);
    let rid = spec
        .rid
        .clone()
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            Problem::usage("agent RID is required: give --agent.rid or rid in --agent.file")
        })?;
    Ok((rid, spec))
}

/// Reads, merges and updates the agent, then prints the result as `describe` would.
pub async fn run(args: &EditArgs, cx: &Context) -> anyhow::Result<()> {
    let (rid, spec) = resolve(args)?;
    let service = &args.service.service;
    let mut client = AgentServiceClient::new(cx.connect(service).await?);
    let current = get_agent(&mut client, cx, service, &rid).await?;
    let mut settings = settings_of(&current);
    settings.apply(&spec);
    settings.validate()?;
    let message = finch_api::UpdateAgentRequest {
        rid: rid.clone(),
        labels: settings.labels.clone(),
        log_sources: settings.log_sources(),
        metrics: settings.metrics,
        metrics_targets: settings.metrics_targets.clone(),
        profiles: settings.profiles,
    };
    client
        .update_agent(request(message, cx.rpc_timeout()))
        .await
        .map_err(|s| cx.rpc_error(service, &format!("update agent {rid:?}"), s))?;
    cx.output.status("Updated", &rid);
    let format = args.output.format();
    if format == OutputFormat::Table {
        eprintln!(
            "note: the host keeps its old config until you run `finchctl agent config {service} --agent.rid {rid}` and `finchctl agent update`"
        );
    }
    let description = AgentDescription::new(&current, &settings);
    Output { format }.data(&description, || description.table())
}
