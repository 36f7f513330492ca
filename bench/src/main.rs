//! `finch-bench`: helpers for the benchmarks in `bench/` (see `bench/README.md`).
//!
//! `finch-bench seed --config <finch.json> --agents N --tokens-out <file>` registers N agents in
//! the store that `finch.json` names, through the `finch` library (the same validation, store and
//! registry the service uses), and writes one agent token per line, in registration order.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use finch::agents::input::AgentInput;
use finch::config::FinchConfig;
use finch::directory::Directory;
use finch::registry::Registry;
use finch::store::Store;
use finch::tokens::TokenKey;
use time::OffsetDateTime;

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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    match cli.command {
        Command::Seed(args) => runtime.block_on(seed(args)),
    }
}

async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let config = FinchConfig::load(&args.config)?;
    let store = Store::open(&config.database, &config.library_dir)
        .await
        .with_context(|| format!("opening the store {}", config.database))?;
    let directory = Directory::load(&store).await?;
    let registry = Registry::new(store.clone(), directory, config.id.clone());
    let key = TokenKey::new(config.secret.as_bytes());

    let file = File::create(&args.tokens_out)
        .with_context(|| format!("creating {}", args.tokens_out.display()))?;
    let mut tokens = BufWriter::new(file);
    let width = args.agents.to_string().len().max(6);
    let now = OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut last_report = Instant::now();

    for n in 1..=args.agents {
        let spec = AgentInput {
            hostname: format!("{}-{n:0width$}", args.hostname_prefix),
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
        let token = key.mint_agent(agent.rid.as_str(), now);
        writeln!(tokens, "{}", token.token).context("writing a token")?;
        if last_report.elapsed().as_secs() >= 5 {
            eprintln!("seed: {n} of {} agents registered", args.agents);
            last_report = Instant::now();
        }
    }
    tokens.flush().context("writing the tokens")?;
    let elapsed = started.elapsed().as_secs_f64();
    store.close().await;

    println!(
        "seed: registered {} agents in {elapsed:.2} s ({:.0} agents/s), tokens in {}",
        args.agents,
        f64::from(args.agents) / elapsed.max(1e-9),
        args.tokens_out.display()
    );
    Ok(())
}
