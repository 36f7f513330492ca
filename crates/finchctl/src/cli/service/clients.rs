//! `finchctl service clients`: the operator clients registered with a stack (its
//! `certs.d/<RID>.pem` files, read over SSH), with their certificates' expiry, as a table or
//! JSON. A Finch 2 addition: 1.x had no way to list them.

use clap::Args;
use time::OffsetDateTime;

use super::on_host::{OnHost, OnHostArgs};
use crate::cli::Context;
use crate::cli::args::OutputArgs;
use crate::mtls;
use crate::output::Output;
use crate::stack::operators;

/// Flags of `service clients`.
#[derive(Debug, Clone, Args)]
pub struct ClientsArgs {
    /// The host, step reporting, the library and the Docker daemon.
    #[command(flatten)]
    pub on: OnHostArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Lists the clients.
pub async fn run(args: &ClientsArgs, cx: &Context) -> anyhow::Result<()> {
    let on = OnHost::read(&args.on, true, cx).await?;
    if on.fleet.dry_run {
        return Ok(());
    }
    let own = mtls::local_rid(&cx.env.machine_id_paths).ok();
    let clients = operators::parse_listing(&on.clients, own.as_deref(), OffsetDateTime::now_utc());
    Output {
        format: args.output.format(),
    }
    .data(&clients, || operators::table(&clients))
}
