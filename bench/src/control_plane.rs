//! `finch-bench control-plane`: the control plane and the dashboard's agent page at fleet scale.
//!
//! Registers N agents in a temporary library through the registry, starts the whole service in
//! this process over it (`Service::start` on free loopback ports), installs an operator CA in
//! `<library>/traefik/etc/certs.d/<CN>.pem` and calls the gRPC control plane with tonic over h2c,
//! each call carrying the operator's client certificate in `x-forwarded-tls-client-cert` as
//! Traefik's `passTLSClientCert` sends it. It measures:
//!
//! - RegisterAgent: sequentially on one connection, then from several tasks at once, each with
//!   its own connection, on top of the N agents;
//! - ListAgents of the whole fleet, repeated, with the decoding limit `finchctl agent list` sets
//!   ([`MAX_LIST_BYTES`]); first once with gRPC's default of 4 MiB, to show from what fleet size
//!   a client that keeps the default cannot list it;
//! - the dashboard's `get_agents`: `Store::page_agents` called directly, as the WebSocket handler
//!   does (without the WebSocket and JSON around it), for a few searches, and `agent_stats`;
//! - the same pages as the browser gets them, over the dashboard's WebSocket
//!   ([`crate::dashboard_ws`]).
//!
//! It prints one Markdown table with p50, p99 and the performance goals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use finch::config::DEFAULT_DASHBOARD_PAGE_SIZE;
use finch::directory::Directory;
use finch::registry::Registry;
use finch::run::{Listeners, Service, open_store};
use finch::store::{AgentQuery, AgentScope, Store};
use finch_api::agent_service_client::AgentServiceClient;
use finch_api::{ListAgentsRequest, RegisterAgentRequest};
use finch_testkit::{Headers, Library, Pki, header};
use finchctl::cli::agent::list::MAX_LIST_BYTES;
use finchctl::mtls;
use prost::Message as _;
use time::OffsetDateTime;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::dashboard_ws::Dashboard;
use crate::register_agents;
use crate::replicas::Backend;

/// The library's host name (the dashboard's WebSocket checks the Origin against it).
const BENCH_HOST: &str = "finch.bench";

/// A performance goal: ListAgents of 100,000 agents.
const LIST_GOAL: Duration = Duration::from_secs(1);
/// A performance goal: a dashboard page with search.
const PAGE_GOAL: Duration = Duration::from_millis(20);

/// Options of `finch-bench control-plane`.
#[derive(Debug, Args)]
pub struct ControlPlaneArgs {
    /// Agents registered before measuring.
    #[arg(long, default_value_t = 100_000)]
    agents: u32,
    /// RegisterAgent calls in the sequential run, and again in the concurrent one.
    #[arg(long, default_value_t = 2_000)]
    registrations: u32,
    /// Tasks (each with its own connection) in the concurrent RegisterAgent run.
    #[arg(long, default_value_t = 16)]
    concurrency: u32,
    /// ListAgents calls.
    #[arg(long, default_value_t = 20)]
    list_calls: u32,
    /// Calls per dashboard query.
    #[arg(long, default_value_t = 200)]
    page_calls: u32,
    /// The database of the library: a SQLite file, or a throw-away PostgreSQL server.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    database: Backend,
}

type Client = AgentServiceClient<InterceptedService<Channel, Headers>>;

/// One measured series: how long each call took.
struct Series {
    name: String,
    calls: Vec<Duration>,
    /// Wall time of the whole series (differs from the sum when calls overlap).
    wall: Duration,
    goal: Option<Duration>,
    note: String,
    /// This process's peak RSS (`VmHWM`) once the series is done.
    peak_rss: String,
}

impl Series {
    /// A series that started at `started` and ends now.
    fn new(
        name: &str,
        calls: Vec<Duration>,
        started: Instant,
        goal: Option<Duration>,
        note: &str,
    ) -> Series {
        Series {
            name: name.to_owned(),
            calls,
            wall: started.elapsed(),
            goal,
            note: note.to_owned(),
            peak_rss: peak_rss().unwrap_or_else(|| "?".into()),
        }
    }
}

/// Leaves the seeded PostgreSQL tables as autovacuum leaves them a minute or two after a bulk
/// load: vacuumed (hint bits set, the visibility map current) and analyzed. Measured at once
/// after the load instead, the first reads pay for that work and the planner plans for empty
/// tables, which no dashboard of a settled fleet sees.
fn vacuum_analyze(uri: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("psql")
        .args([
            "--quiet",
            "--no-psqlrc",
            "--dbname",
            uri,
            "--command",
            "VACUUM ANALYZE",
        ])
        .status()
        .context("cannot run psql")?;
    anyhow::ensure!(status.success(), "psql VACUUM ANALYZE failed: {status}");
    Ok(())
}

pub async fn run(args: ControlPlaneArgs) -> anyhow::Result<()> {
    let server = args.database.server().await?;
    let library = Library::with(|config| {
        BENCH_HOST.clone_into(&mut config.hostname);
        if let Some(db) = &server {
            db.uri.clone_into(&mut config.database);
        }
    });
    let config = Arc::new(library.config());
    let cert = enrol_operator(&library);
    let store = open_store(&config).await?;
    // The fleet is registered before the service starts, as `finch-bench seed` does: while the
    // service runs, its directory watcher reloads every agent after any write it did not see
    // itself, so registering 100,000 agents one by one against it takes many minutes.
    let directory = Directory::load(&store, &config.id).await?;
    let registry = Registry::new(store.clone(), directory, config.id.clone());
    let seeded = register_agents(&registry, args.agents, "bench-agent", None).await?;
    eprintln!(
        "control-plane: {} agents registered in {:.1} s through the registry",
        args.agents,
        seeded.as_secs_f64()
    );
    drop(registry);
    if let Some(db) = &server {
        vacuum_analyze(&db.uri)?;
    }
    let started = Instant::now();
    let listeners = Listeners::bind_loopback().await?;
    let service = Service::start(Arc::clone(&config), store, listeners).await?;
    let grpc = service.addresses().grpc;
    let startup_rss = peak_rss().unwrap_or_else(|| "?".into());
    eprintln!(
        "control-plane: service on {grpc} (gRPC) after {:.2} s, library {}",
        started.elapsed().as_secs_f64(),
        library.path().display()
    );

    let url = format!("http://{grpc}");
    let mut series = Vec::new();
    let client = connect(&url, &cert).await?;
    series.push(register_sequential(&client, args.registrations).await?);
    series.push(register_concurrent(&url, &cert, args.registrations, args.concurrency).await?);
    let fleet = args.agents + 2 * args.registrations;

    series.push(registry_list(service.registry(), args.list_calls.min(5)).await?);
    let default_limit = match client.clone().list_agents(ListAgentsRequest {}).await {
        Ok(response) => format!("{} agents", response.into_inner().agents.len()),
        Err(status) => format!("fails: {:?}: {}", status.code(), status.message()),
    };
    let client = client.max_decoding_message_size(MAX_LIST_BYTES);
    series.push(list_agents(&client, args.list_calls, fleet, &default_limit).await?);

    let store = service.registry().store().clone();
    let middle = format!("bench-agent-{:06}", args.agents / 2 + 1);
    let pages = [
        ("page 1, no search", String::new(), 1),
        ("last page, no search", String::new(), u32::MAX),
        ("search one host name", middle, 1),
        ("search `agent-0` (many hits)", "agent-0".to_owned(), 1),
        ("search, no match", "no-such-agent".to_owned(), 1),
    ];
    for (name, search, page) in &pages {
        series.push(dashboard_page(&store, name, search, *page, args.page_calls).await?);
    }
    let tokens = library.tokens();
    let dashboard = Dashboard::new(service.addresses().http, &config.hostname, &tokens);
    for (name, search, page) in &pages {
        series.push(dashboard_ws_page(&dashboard, name, search, *page, args.page_calls).await?);
    }
    series.push(dashboard_stats(&store, args.page_calls).await?);
    series.push(directory_snapshot(&store, args.list_calls.min(10)).await?);

    service.stop().await;
    print_report(&args, fleet, seeded, &startup_rss, &series);
    Ok(())
}

/// Makes the operator's credentials with finchctl's recipe (the kit's [`Pki`]), installs the CA
/// as `certs.d/<CN>.pem`, and returns the certificate header Traefik would send.
fn enrol_operator(library: &Library) -> Headers {
    let pki = Pki::new(&mtls::client_rid("finch-bench"));
    library.enroll(&pki.cn, &pki.ca_pem);
    Headers {
        cert: Some(header(&[&pki.client()])),
        ..Headers::default()
    }
}

async fn connect(url: &str, cert: &Headers) -> anyhow::Result<Client> {
    let channel = Channel::from_shared(url.to_owned())?
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(AgentServiceClient::with_interceptor(channel, cert.clone()))
}

fn registration(hostname: String) -> RegisterAgentRequest {
    RegisterAgentRequest {
        hostname,
        labels: vec!["bench".into()],
        log_sources: vec!["journal://".into()],
        metrics: true,
        metrics_targets: Vec::new(),
        profiles: false,
        node: "unix".into(),
    }
}

/// Calls `call(n)` for each `n` of `numbers`, one after the other: how long each call took, and
/// the last answer.
async fn timed<T, F, Fut>(
    numbers: impl IntoIterator<Item = u32>,
    mut call: F,
) -> anyhow::Result<(Vec<Duration>, Option<T>)>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut calls = Vec::new();
    let mut last = None;
    for n in numbers {
        let started = Instant::now();
        last = Some(call(n).await?);
        calls.push(started.elapsed());
    }
    Ok((calls, last))
}

/// RegisterAgent calls numbered `numbers`, one after the other on `client`.
async fn register(
    client: Client,
    prefix: &'static str,
    numbers: impl IntoIterator<Item = u32>,
) -> anyhow::Result<Vec<Duration>> {
    let (calls, _) = timed(numbers, |n| {
        let mut client = client.clone();
        async move {
            let hostname = format!("{prefix}-{n:06}");
            client
                .register_agent(registration(hostname))
                .await
                .context("RegisterAgent")
        }
    })
    .await?;
    Ok(calls)
}

async fn register_sequential(client: &Client, count: u32) -> anyhow::Result<Series> {
    let started = Instant::now();
    let calls = register(client.clone(), "cp-seq", 1..=count).await?;
    Ok(Series::new(
        "RegisterAgent, sequential",
        calls,
        started,
        None,
        "one connection",
    ))
}

async fn register_concurrent(
    url: &str,
    cert: &Headers,
    count: u32,
    concurrency: u32,
) -> anyhow::Result<Series> {
    let concurrency = concurrency.max(1);
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        clients.push(connect(url, cert).await?);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (task, client) in (0..concurrency).zip(clients) {
        let numbers = (task + 1..=count).step_by(concurrency as usize);
        tasks.spawn(register(client, "cp-par", numbers));
    }
    let mut calls = Vec::with_capacity(count as usize);
    while let Some(done) = tasks.join_next().await {
        calls.extend(done.context("a RegisterAgent task")??);
    }
    Ok(Series::new(
        &format!("RegisterAgent, {concurrency} at once"),
        calls,
        started,
        None,
        &format!("{concurrency} connections"),
    ))
}

async fn list_agents(
    client: &Client,
    count: u32,
    fleet: u32,
    default_limit: &str,
) -> anyhow::Result<Series> {
    let started = Instant::now();
    let (calls, last) = timed(0..count, |_| {
        let mut client = client.clone();
        async move {
            let response = client.list_agents(ListAgentsRequest {}).await;
            Ok(response.context("ListAgents")?.into_inner())
        }
    })
    .await?;
    let listed = last.map(|r| (r.agents.len(), r.encoded_len()));
    let (agents, size) = listed.unwrap_or_default();
    anyhow::ensure!(
        agents == fleet as usize,
        "ListAgents returned {agents} agents, not {fleet}"
    );
    let note = format!(
        "response {:.1} MiB; with gRPC's default 4 MiB limit: {default_limit}",
        size as f64 / 1_048_576.0
    );
    let name = format!("ListAgents ({fleet} agents)");
    Ok(Series::new(&name, calls, started, Some(LIST_GOAL), &note))
}

async fn dashboard_page(
    store: &Store,
    name: &str,
    search: &str,
    page: u32,
    count: u32,
) -> anyhow::Result<Series> {
    let query = AgentQuery {
        scope: AgentScope::All,
        search: search.to_owned(),
        page,
        page_size: DEFAULT_DASHBOARD_PAGE_SIZE,
    };
    let started = Instant::now();
    let (calls, last) = timed(0..count, |_| async {
        store.page_agents(&query).await.context("page_agents")
    })
    .await?;
    let matched = last.map_or(0, |page| page.total_agents);
    let note =
        format!("Store::page_agents, {DEFAULT_DASHBOARD_PAGE_SIZE} per page, {matched} matching");
    let name = format!("dashboard page: {name}");
    Ok(Series::new(&name, calls, started, Some(PAGE_GOAL), &note))
}

async fn dashboard_ws_page(
    dashboard: &Dashboard,
    name: &str,
    search: &str,
    page: u32,
    count: u32,
) -> anyhow::Result<Series> {
    let started = Instant::now();
    let (calls, matched) = dashboard.pages(search, page, count).await?;
    let note =
        format!("get_agents over the dashboard WebSocket (admin session), {matched} matching");
    let name = format!("dashboard page over WebSocket: {name}");
    Ok(Series::new(&name, calls, started, Some(PAGE_GOAL), &note))
}

async fn dashboard_stats(store: &Store, count: u32) -> anyhow::Result<Series> {
    let since = OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let started = Instant::now();
    let (calls, _) = timed(0..count, |_| async {
        let scope = AgentScope::All;
        store
            .agent_stats(&scope, since)
            .await
            .context("agent_stats")
    })
    .await?;
    let name = "dashboard counters (`stats`)";
    Ok(Series::new(
        name,
        calls,
        started,
        None,
        "Store::agent_stats",
    ))
}

/// What ListAgents reads before encoding, in this process without gRPC (`Registry::list`): its
/// row says how much of ListAgents' time and memory is the store's.
async fn registry_list(registry: &Registry, count: u32) -> anyhow::Result<Series> {
    let started = Instant::now();
    let (calls, last) = timed(0..count, |_| async {
        Ok(registry.list().await.context("Registry::list")?.len())
    })
    .await?;
    let note = format!(
        "Registry::list in-process, {} agents: ListAgents without gRPC",
        last.unwrap_or_default()
    );
    Ok(Series::new("Registry::list", calls, started, None, &note))
}

/// What the directory watcher reads when it reloads every agent (`Store::directory_snapshot`).
async fn directory_snapshot(store: &Store, count: u32) -> anyhow::Result<Series> {
    let started = Instant::now();
    let (calls, last) = timed(0..count, |_| async {
        let mut rows = 0_usize;
        let snapshot = store.directory_snapshot(|_| rows += 1).await;
        snapshot.context("directory_snapshot")?;
        Ok(rows)
    })
    .await?;
    let note = format!(
        "Store::directory_snapshot, {} rows: the read of a full directory reload",
        last.unwrap_or_default()
    );
    Ok(Series::new(
        "directory snapshot",
        calls,
        started,
        None,
        &note,
    ))
}

/// The `p`-th percentile (0–100) of sorted durations: the smallest value at or above that share.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn print_report(
    args: &ControlPlaneArgs,
    fleet: u32,
    seeded: Duration,
    startup_rss: &str,
    series: &[Series],
) {
    println!(
        "Control plane and dashboard at {} agents on {:?} (finch-bench control-plane --agents {} \
         --registrations {} --concurrency {} --list-calls {} --page-calls {})",
        args.agents,
        args.database,
        args.agents,
        args.registrations,
        args.concurrency,
        args.list_calls,
        args.page_calls
    );
    println!();
    println!(
        "| operation | calls | calls/s | p50 ms | p99 ms | max ms | goal | p99 / goal | peak RSS after | notes |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for s in series {
        let mut sorted = s.calls.clone();
        sorted.sort_unstable();
        let p99 = percentile(&sorted, 99.0);
        let (goal, ratio) = match s.goal {
            Some(goal) => (
                format!("< {} ms", goal.as_millis()),
                format!("{:.3}", p99.as_secs_f64() / goal.as_secs_f64()),
            ),
            None => ("–".into(), "–".into()),
        };
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {goal} | {ratio} | {} | {} |",
            s.name,
            sorted.len(),
            sorted.len() as f64 / s.wall.as_secs_f64().max(1e-9),
            ms(percentile(&sorted, 50.0)),
            ms(p99),
            ms(sorted.last().copied().unwrap_or_default()),
            s.peak_rss,
            s.note
        );
    }
    println!();
    println!(
        "Seeding: {} agents registered in-process through the registry (before the service \
         started) in {:.1} s; {fleet} agents at the end. Peak RSS is this process's (service \
         and clients) `VmHWM` after each row; {startup_rss} once seeded and started.",
        args.agents,
        seeded.as_secs_f64(),
    );
}

/// `VmHWM` of this process, from /proc.
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(format!("{:.1} MiB", kb / 1024.0))
}
