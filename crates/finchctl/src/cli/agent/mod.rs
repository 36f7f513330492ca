//! `finchctl agent …`: agents. Register, list, describe, edit, config and deregister ask the
//! service over gRPC; deploy, update, teardown and doctor work on the agent's host over SSH;
//! enroll does both for many hosts.

pub mod config;
pub mod deregister;
pub mod describe;
pub mod doctor;
pub mod edit;
pub mod enroll;
pub mod install;
pub mod list;
pub mod register;
pub mod registration;
pub mod teardown;

use std::path::Path;

use clap::Subcommand;

use crate::cli::Context;
use crate::output::OutputFormat;

/// The default path of the agent config written by `register` and `config` (1.x's name).
pub const DEFAULT_AGENT_CONFIG: &str = "finch-agent.cfg";

/// The `agent` commands.
#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Enroll an agent and write its config
    Register(register::RegisterArgs),
    /// Remove an agent from the service (the host keeps running it until teardown)
    Deregister(deregister::DeregisterArgs),
    /// List the service's agents
    List(list::ListArgs),
    /// Show an agent's settings
    Describe(describe::DescribeArgs),
    /// Change the given settings of an agent
    Edit(edit::EditArgs),
    /// Write a fresh agent config (with a new token)
    Config(config::ConfigArgs),
    /// Install Alloy with an agent config on a host
    Deploy(install::InstallCommand),
    /// Replace the agent config or Alloy on a host
    Update(install::InstallCommand),
    /// Remove Alloy from a host
    Teardown(teardown::TeardownArgs),
    /// Check that a host can run an agent
    Doctor(doctor::DoctorArgs),
    /// Register and deploy agents on many hosts at once (skips hosts already enrolled and healthy)
    Enroll(enroll::EnrollArgs),
}

// === impl AgentCommand ===

impl AgentCommand {
    /// The output format asked for.
    pub fn output_format(&self) -> OutputFormat {
        match self {
            AgentCommand::Register(a) => a.output.format(),
            AgentCommand::Deregister(a) => a.output.format(),
            AgentCommand::List(a) => a.output.format(),
            AgentCommand::Describe(a) => a.output.format(),
            AgentCommand::Edit(a) => a.output.format(),
            AgentCommand::Config(a) => a.output.format(),
            AgentCommand::Doctor(a) => a.output.format(),
            AgentCommand::Enroll(a) => a.output.format(),
            AgentCommand::Deploy(_) | AgentCommand::Update(_) | AgentCommand::Teardown(_) => {
                OutputFormat::Table
            }
        }
    }
}

/// Runs an `agent` command.
pub async fn run(command: AgentCommand, cx: &Context) -> anyhow::Result<()> {
    match command {
        AgentCommand::Register(a) => register::run(&a, cx).await,
        AgentCommand::Deregister(a) => deregister::run(&a, cx).await,
        AgentCommand::List(a) => list::run(&a, cx).await,
        AgentCommand::Describe(a) => describe::run(&a, cx).await,
        AgentCommand::Edit(a) => edit::run(&a, cx).await,
        AgentCommand::Config(a) => config::run(&a, cx).await,
        AgentCommand::Deploy(a) | AgentCommand::Update(a) => install::run(&a, cx).await,
        AgentCommand::Teardown(a) => teardown::run(&a, cx).await,
        AgentCommand::Doctor(a) => doctor::run(&a, cx).await,
        AgentCommand::Enroll(a) => enroll::run(&a, cx).await,
    }
}

/// Writes an agent config (it holds a bearer token: mode 0600), or to stdout for `-`.
pub fn write_agent_config(path: &Path, config: &[u8], cx: &Context) -> anyhow::Result<()> {
    if path.as_os_str() == "-" {
        let text = String::from_utf8_lossy(config);
        return crate::output::stdout(&text);
    }
    crate::cli::context::write_private(path, config, "--agent.config")?;
    cx.output.status("Wrote", &path.display().to_string());
    Ok(())
}
