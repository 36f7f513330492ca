//! `finchctl service …`: the stack itself. Deploy, update, teardown, register, deregister,
//! rotate, backup, restore and doctor work over SSH; render writes the stack's files locally; info and dashboard
//! ask the running service over gRPC.

pub mod alert_args;
pub mod backup;
pub mod clients;
pub mod dashboard;
pub mod deploy;
pub mod deregister;
pub mod doctor;
pub mod host_args;
pub mod info;
pub mod logs;
pub mod on_host;
pub mod operator;
pub mod operator_ca;
pub mod pin;
pub mod register;
pub mod render;
pub mod restore;
pub mod rollout;
pub mod rotate_certificate;
pub mod rotate_secret;
pub mod stack_args;
pub mod teardown;
pub mod update;

use clap::Subcommand;

use crate::cli::Context;
use crate::output::OutputFormat;

/// The `service` commands.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Deploy the stack on a host
    Deploy(Box<deploy::DeployArgs>),
    /// Update a deployed stack to this release
    Update(Box<update::UpdateArgs>),
    /// Write the files deploy would upload into a directory, without connecting anywhere
    Render(Box<render::RenderArgs>),
    /// Remove the stack and its data from a host
    Teardown(teardown::TeardownArgs),
    /// Enroll this workstation as an operator of an existing stack
    Register(register::RegisterArgs),
    /// Revoke an operator's access to a stack
    Deregister(deregister::DeregisterArgs),
    /// List the operator clients registered with a stack and when their certificates expire
    Clients(clients::ClientsArgs),
    /// Show the service's id, host name, creation time and release
    Info(info::InfoArgs),
    /// Issue a dashboard login
    Dashboard(dashboard::DashboardArgs),
    /// Renew this workstation's client certificate
    RotateCertificate(rotate_certificate::RotateCertificateArgs),
    /// Replace the stack's token secret (agents need new configs)
    RotateSecret(rotate_secret::RotateSecretArgs),
    /// Write an archive of the stack (configuration, registry, CAs, TLS, Grafana) to this
    /// workstation
    Backup(backup::BackupArgs),
    /// Bring a stack back from a backup archive, on the same host or a new one
    Restore(Box<restore::RestoreArgs>),
    /// Check that a host can run the stack
    Doctor(doctor::DoctorArgs),
    /// Show the stack services' logs, each line prefixed with its service
    Logs(logs::LogsArgs),
    /// Pin the stack's server certificate (for self-signed stacks)
    Pin(pin::PinArgs),
}

// === impl ServiceCommand ===

impl ServiceCommand {
    /// The output format asked for.
    pub fn output_format(&self) -> OutputFormat {
        match self {
            ServiceCommand::Info(a) => a.output.format(),
            ServiceCommand::Dashboard(a) => a.output.format(),
            ServiceCommand::Doctor(a) => a.output.format(),
            ServiceCommand::Pin(a) => a.output.format(),
            ServiceCommand::Clients(a) => a.output.format(),
            _ => OutputFormat::Table,
        }
    }
}

/// Runs a `service` command.
pub async fn run(command: ServiceCommand, cx: &Context) -> anyhow::Result<()> {
    match command {
        ServiceCommand::Deploy(a) => deploy::run(&a, cx).await,
        ServiceCommand::Update(a) => update::run(&a, cx).await,
        ServiceCommand::Render(a) => render::run(&a, cx),
        ServiceCommand::Teardown(a) => teardown::run(&a, cx).await,
        ServiceCommand::Register(a) => register::run(&a, cx).await,
        ServiceCommand::Deregister(a) => deregister::run(&a, cx).await,
        ServiceCommand::Clients(a) => clients::run(&a, cx).await,
        ServiceCommand::Info(a) => info::run(&a, cx).await,
        ServiceCommand::Dashboard(a) => dashboard::run(&a, cx).await,
        ServiceCommand::RotateCertificate(a) => rotate_certificate::run(&a, cx).await,
        ServiceCommand::RotateSecret(a) => rotate_secret::run(&a, cx).await,
        ServiceCommand::Backup(a) => backup::run(&a, cx).await,
        ServiceCommand::Restore(a) => restore::run(&a, cx).await,
        ServiceCommand::Doctor(a) => doctor::run(&a, cx).await,
        ServiceCommand::Logs(a) => logs::run(&a, cx).await,
        ServiceCommand::Pin(a) => pin::run(&a, cx).await,
    }
}
