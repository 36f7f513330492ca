//! `finch-bench postgres --uri-out FILE`: a throw-away PostgreSQL server on loopback for the
//! shell benchmarks (the test kit's), with one empty database whose URI is written to FILE. It
//! runs until SIGTERM or SIGINT, then stops the server and deletes its data.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

/// Options of `finch-bench postgres`.
#[derive(Debug, Args)]
pub struct PostgresArgs {
    /// Where to write the database's URI once the server accepts connections.
    #[arg(long)]
    uri_out: PathBuf,
}

pub async fn run(args: PostgresArgs) -> anyhow::Result<()> {
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT")?;
    let db = crate::replicas::postgres_database().await?;
    // Written whole under another name and renamed, so a reader never sees half a URI.
    let partial = args.uri_out.with_extension("partial");
    std::fs::write(&partial, &db.uri).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &args.uri_out)
        .with_context(|| format!("writing {}", args.uri_out.display()))?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    drop(db);
    Ok(())
}
