//! `finchctl service info`: the service's identity and release, from `InfoService`.

use clap::Args;
use finch_api::info_service_client::InfoServiceClient;
use serde::Serialize;

use crate::cli::Context;
use crate::cli::args::{OutputArgs, ServiceArg};
use crate::client::request;
use crate::output::{Output, table};

/// Flags of `service info`.
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// The stack.
    #[command(flatten)]
    pub service: ServiceArg,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The JSON and YAML schema (1.x's keys).
#[derive(Debug, Serialize)]
pub struct ServiceInfo {
    /// The service id.
    pub id: String,
    /// The stack's host name.
    pub hostname: String,
    /// When the stack was deployed.
    pub created_at: String,
    /// The service's release.
    pub release: String,
    /// The service's commit.
    pub commit: String,
}

/// Asks the service and prints the answer.
pub async fn run(args: &InfoArgs, cx: &Context) -> anyhow::Result<()> {
    let service = &args.service.service;
    let channel = cx.connect(service).await?;
    let reply = InfoServiceClient::new(channel)
        .get_service_info(request(
            finch_api::GetServiceInfoRequest {},
            cx.rpc_timeout(),
        ))
        .await
        .map_err(|s| cx.rpc_error(service, "get the service info", s))?
        .into_inner();
    let info = ServiceInfo {
        id: reply.id,
        hostname: reply.hostname,
        created_at: reply.created_at,
        release: reply.release,
        commit: reply.commit,
    };
    Output {
        format: args.output.format(),
    }
    .data(&info, || {
        table(
            None,
            &[
                vec!["Id".into(), info.id.clone()],
                vec!["Hostname".into(), info.hostname.clone()],
                vec!["Created At".into(), info.created_at.clone()],
                vec!["Release".into(), info.release.clone()],
                vec!["Commit".into(), info.commit.clone()],
            ],
        )
    })
}
