//! `finch-bench`: helpers for the benchmarks in `bench/` (see `bench/README.md`).
//!
//! `finch-bench seed --config <finch.json> --agents N --tokens-out <file>` registers N agents in
//! the store that `finch.json` names, through the `finch` library (the same validation, store and
//! registry the service uses), and writes one agent token per line, in registration order.
//!
//! `finch-bench control-plane --agents N` starts the service in this process and measures
//! RegisterAgent, ListAgents and the dashboard's agent page at N agents (see `control_plane`).
//!
//! `finch-bench postgres --uri-out <file>` runs a throw-away PostgreSQL server for the shell
//! benchmarks' `--database postgres` until it is told to stop (see `postgres_server`).
//!
//! `finch-bench replicas --finch <binary>` times how soon a deregistration through one of two
//! `finch` processes on one database is refused by the other (see `replicas`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use finch::agents::input::AgentInput;
use finch::config::FinchConfig;
use finch::directory::Directory;
use finch::registry::Registry;
use finch::store::Store;
use finch::tokens::TokenKey;
use time::OffsetDateTime;

mod control_plane;
mod dashboard_ws;
mod postgres_server;
mod replicas;

/// Benchmark helpers for Finch.
#[derive(Debug, Parser)]
#[command(name = "finch-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Registers agents in a library's store and writes one agent token per line.
    Seed(SeedArgs),
    /// Measures RegisterAgent, ListAgents and the dashboard's agent page at fleet scale, against
    /// the service started in this process over a temporary library.
    ControlPlane(control_plane::ControlPlaneArgs),
    /// Times cross-replica revocation: two finch processes on one database.
    Replicas(replicas::ReplicasArgs),
    /// Runs a throw-away PostgreSQL server with one database until SIGTERM.
    Postgres(postgres_server::PostgresArgs),
}

#[derive(Debug, Args)]
struct SeedArgs {
    /// Absolute path of the library's finch.json.
    #[arg(long)]
    config: PathBuf,
    /// How many agents to register.
    #[arg(long)]
    agents: u32,
    /// Where to write the tokens (created or truncated).
    #[arg(long)]
    tokens_out: PathBuf,
    /// Host names are `<prefix>-<number>`, numbered from 1.
    #[arg(long, default_value = "bench-agent")]
    hostname_prefix: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Seed(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?
            .block_on(seed(args)),
        // The service gets the runtime `finch run` has: one worker thread per CPU.
        Command::ControlPlane(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?
            .block_on(control_plane::run(args)),
        Command::Replicas(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?
            .block_on(replicas::run(args)),
        Command::Postgres(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the tokio runtime")?
            .block_on(postgres_server::run(args)),
    }
}

async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let config = FinchConfig::load(&args.config)?;
    let store = Store::open(&config.database, &config.library_dir)
        .await
        .with_context(|| format!("opening the store {}", config.database))?;
    let directory = Directory::load(&store, &config.id).await?;
    let registry = Registry::new(store.clone(), directory, config.id.clone());
    let key = TokenKey::new(config.secret.as_bytes());

    let file = File::create(&args.tokens_out)
        .with_context(|| format!("creating {}", args.tokens_out.display()))?;
    let mut tokens = BufWriter::new(file);
    let elapsed = register_agents(
        &registry,
        args.agents,
        &args.hostname_prefix,
        Some((&key, &mut tokens)),
    )
    .await?
    .as_secs_f64();
    tokens.flush().context("writing the tokens")?;
    store.close().await;

    println!(
        "seed: registered {} agents in {elapsed:.2} s ({:.0} agents/s), tokens in {}",
        args.agents,
        f64::from(args.agents) / elapsed.max(1e-9),
        args.tokens_out.display()
    );
    Ok(())
}

/// Registers `count` agents through `registry` (`<prefix>-000001`, …: unix, journal logs,
/// metrics on, so that `/auth/mimir` accepts them), one by one as RegisterAgent does, and writes
/// a fresh token per agent, one a line, if `tokens` is given. Returns how long it took.
pub(crate) async fn register_agents(
    registry: &Registry,
    count: u32,
    prefix: &str,
    mut tokens: Option<(&TokenKey, &mut dyn Write)>,
) -> anyhow::Result<Duration> {
    let width = count.to_string().len().max(6);
    let now = OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut last_report = Instant::now();
    for n in 1..=count {
        let spec = AgentInput {
            hostname: format!("{prefix}-{n:0width$}"),
            node: "unix".into(),
            log_sources: vec!["journal://".into()],
            metrics: true,
            labels: vec!["bench".into()],
            ..Default::default()
        }
        .into_spec()
        .context("building the agent spec")?;
        let agent = registry
            .register(&spec)
            .await
            .with_context(|| format!("registering {}", spec.hostname))?;
        if let Some((key, out)) = tokens.as_mut() {
            let token = key.mint_agent(agent.rid.as_str(), now);
            writeln!(out, "{}", token.token).context("writing a token")?;
        }
        if last_report.elapsed().as_secs() >= 5 {
            eprintln!("seed: {n} of {count} agents registered");
            last_report = Instant::now();
        }
    }
    Ok(started.elapsed())
}
