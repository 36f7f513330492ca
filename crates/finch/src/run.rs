//! `finch run`: load, bind, serve, drain.
//!
//! The order matters to operators: configuration and database problems are reported before any
//! port is taken; all four ports are bound before any is announced, so "Listening on" in the log
//! is true; a port in use is one clear error and exit status 1. On SIGINT or SIGTERM every
//! listener stops accepting and drains in parallel, and the process is gone within
//! [`SHUTDOWN_DEADLINE`].
//!
//! [`Service`] is the running service without the process around it: tests start it on
//! listeners bound to `127.0.0.1:0` and reach its registry directly. [`ServiceOptions`] holds the
//! little a test may set that `finch.json` does not: the dashboard's clock and intervals, so
//! that a test moves time by hand instead of waiting for a session to expire.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::cli::RunArgs;
use crate::config::{FinchConfig, redact_uri};
use crate::dashboard::clock::{Clock, SystemClock};
use crate::dashboard::{self, DashboardSettings, DashboardState};
use crate::directory::{DEFAULT_POLL_INTERVAL, Directory};
use crate::forward_auth::{self, ForwardAuth};
use crate::grpc::{self, GrpcState};
use crate::health::{self, HealthState};
use crate::liveness::{LivenessRecorder, Pace};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::serve::serve;
use crate::store::Store;
use crate::tokens::{AgentKeys, TokenKey};
use crate::version;

/// Everything stops within this after a signal: what Finch 1.x allowed, and well inside the
/// 10 s Docker waits before it kills a container.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Pending connections per listening socket, as `TcpListener::bind` sets it.
const LISTEN_BACKLOG: u32 = 1024;

/// How long open connections get to finish; the rest of the deadline is for flushing liveness
/// marks and closing the database.
const DRAIN_DEADLINE: Duration = Duration::from_secs(4);

/// The four listeners, bound.
#[derive(Debug)]
pub struct Listeners {
    /// gRPC control plane (h2c).
    pub grpc: TcpListener,
    /// Dashboard.
    pub http: TcpListener,
    /// ForwardAuth: one socket per auth worker, all on one port.
    pub auth: Vec<TcpListener>,
    /// Health and metrics.
    pub healthz: TcpListener,
}

/// The addresses the listeners are bound to.
#[derive(Debug, Clone, Copy)]
pub struct BoundAddresses {
    /// gRPC control plane.
    pub grpc: SocketAddr,
    /// Dashboard.
    pub http: SocketAddr,
    /// ForwardAuth.
    pub auth: SocketAddr,
    /// Health and metrics.
    pub healthz: SocketAddr,
}

/// What a started service takes besides `finch.json`; `finch run` uses the defaults.
#[derive(Clone)]
pub struct ServiceOptions {
    /// Where the dashboard reads the time (sessions, liveness states): the system clock.
    pub dashboard_clock: Arc<dyn Clock>,
    /// The dashboard's tunables; `None` for the defaults with the page size of `finch.json`.
    pub dashboard_settings: Option<DashboardSettings>,
}

/// A running service.
#[derive(Debug)]
pub struct Service {
    registry: Registry,
    dashboard: DashboardState,
    addresses: BoundAddresses,
    shutdown: CancellationToken,
    servers: JoinSet<()>,
    background: Vec<JoinHandle<()>>,
}

/// Runs the service until SIGINT or SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    // The handlers go in before anything is announced: a supervisor that sends SIGTERM as soon
    // as it reads "Listening on" must get a drained shutdown, not the default disposition.
    let signals = ShutdownSignals::install()?;
    let config = Arc::new(FinchConfig::load(&args.config_file)?);
    tracing::debug!(?config, "configuration loaded");
    let store = open_store(&config).await?;
    let listeners = Listeners::bind(&args).await?;
    let service = Service::start(config, store, listeners).await?;
    let signal = signals.wait().await;
    tracing::info!(signal, "Shutting down servers...");
    service.stop().await;
    Ok(())
}

/// Opens the database `finch.json` names, with an error that says which one.
pub async fn open_store(config: &FinchConfig) -> anyhow::Result<Store> {
    Store::open(&config.database, &config.library_dir)
        .await
        .with_context(|| format!("cannot open the database {}", redact_uri(&config.database)))
}

// === impl Service ===

impl Service {
    /// Loads the agents and serves every listener.
    pub async fn start(
        config: Arc<FinchConfig>,
        store: Store,
        listeners: Listeners,
    ) -> anyhow::Result<Service> {
        Service::start_with(config, store, listeners, ServiceOptions::default()).await
    }

    /// [`Service::start`] with `options` other than the defaults.
    pub async fn start_with(
        config: Arc<FinchConfig>,
        store: Store,
        listeners: Listeners,
        options: ServiceOptions,
    ) -> anyhow::Result<Service> {
        let directory = Directory::load(&store, &config.id)
            .await
            .context("cannot read the agents from the database")?;
        let registry = Registry::new(store.clone(), directory.clone(), config.id.clone());
        let tokens = TokenKey::new(config.secret.as_bytes());
        let metrics = Arc::new(Metrics::new());
        let addresses = listeners.addresses()?;
        tracing::info!(
            release = version::RELEASE,
            commit = version::COMMIT,
            agents = directory.len(),
            "Starting Finch management server"
        );
        addresses.announce();

        let shutdown = CancellationToken::new();
        let watcher =
            directory.spawn_watcher(store.clone(), DEFAULT_POLL_INTERVAL, shutdown.clone());
        let (liveness, liveness_writer) = LivenessRecorder::spawn(
            registry.clone(),
            Pace::default(),
            metrics.auth.liveness_dropped.clone(),
            shutdown.clone(),
        );
        let grpc_router = grpc::router(GrpcState::new(
            Arc::clone(&config),
            registry.clone(),
            tokens.clone(),
        ));
        // The dashboard's WebSockets are upgraded connections, which graceful shutdown does not
        // drain: they watch the same token and close themselves.
        let settings = options
            .dashboard_settings
            .unwrap_or_else(|| DashboardSettings::from_config(&config));
        let dashboard = DashboardState::new(
            Arc::clone(&config),
            registry.clone(),
            tokens.clone(),
            shutdown.clone(),
        )
        .with_clock(options.dashboard_clock)
        .with_settings(settings);
        let dashboard_router = dashboard::router(dashboard.clone());
        let forward_auth = ForwardAuth {
            tokens: AgentKeys::for_config(&config),
            directory: directory.clone(),
            liveness,
            metrics: metrics.auth.clone(),
        };
        let health_router = health::router(HealthState {
            store,
            directory,
            metrics,
        });
        let mut servers = JoinSet::new();
        for (name, listener, router) in [
            ("gRPC", listeners.grpc, grpc_router),
            ("HTTP", listeners.http, dashboard_router),
            ("Healthz", listeners.healthz, health_router),
        ] {
            servers.spawn(serve(
                name,
                listener,
                router,
                shutdown.clone(),
                DRAIN_DEADLINE,
            ));
        }
        servers.spawn(forward_auth::server::serve(
            listeners.auth,
            forward_auth,
            shutdown.clone(),
            DRAIN_DEADLINE,
        ));
        Ok(Service {
            registry,
            dashboard,
            addresses,
            shutdown,
            servers,
            background: vec![watcher, liveness_writer],
        })
    }

    /// The agent registry, for writes that must reach `/auth` at once.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The dashboard's state, e.g. for how many WebSockets follow agent changes.
    pub fn dashboard(&self) -> &DashboardState {
        &self.dashboard
    }

    /// Where the listeners are bound.
    pub fn addresses(&self) -> BoundAddresses {
        self.addresses
    }

    /// Stops accepting, drains, flushes liveness marks and closes the database, all within
    /// [`SHUTDOWN_DEADLINE`].
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let store = self.registry.store().clone();
        let stopped = tokio::time::timeout(SHUTDOWN_DEADLINE, async {
            while self.servers.join_next().await.is_some() {}
            for task in self.background {
                let _ = task.await;
            }
            store.close().await;
        })
        .await;
        match stopped {
            Ok(()) => tracing::info!("Servers stopped"),
            Err(_) => tracing::warn!(
                deadline_s = SHUTDOWN_DEADLINE.as_secs(),
                "shutdown deadline reached; stopping with work still open"
            ),
        }
    }
}

// === impl ServiceOptions ===

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            dashboard_clock: Arc::new(SystemClock),
            dashboard_settings: None,
        }
    }
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("dashboard_settings", &self.dashboard_settings)
            .finish_non_exhaustive()
    }
}

// === impl Listeners ===

impl Listeners {
    /// Binds the four addresses of `finch run`.
    pub async fn bind(args: &RunArgs) -> anyhow::Result<Listeners> {
        Ok(Listeners {
            grpc: bind("gRPC", &args.grpc_address).await?,
            http: bind("HTTP", &args.http_address).await?,
            auth: bind_shared("Auth", &args.auth_address, forward_auth::server::workers()).await?,
            healthz: bind("Healthz", &args.healthz_address).await?,
        })
    }

    /// Binds four free loopback ports (for tests and benchmarks).
    pub async fn bind_loopback() -> anyhow::Result<Listeners> {
        Ok(Listeners {
            grpc: bind("gRPC", "127.0.0.1:0").await?,
            http: bind("HTTP", "127.0.0.1:0").await?,
            auth: bind_shared("Auth", "127.0.0.1:0", forward_auth::server::workers()).await?,
            healthz: bind("Healthz", "127.0.0.1:0").await?,
        })
    }

    fn addresses(&self) -> anyhow::Result<BoundAddresses> {
        let local = |listener: &TcpListener| {
            listener
                .local_addr()
                .context("cannot read a bound listener's address")
        };
        Ok(BoundAddresses {
            grpc: local(&self.grpc)?,
            http: local(&self.http)?,
            auth: local(self.auth.first().context("no ForwardAuth socket bound")?)?,
            healthz: local(&self.healthz)?,
        })
    }
}

// === impl BoundAddresses ===

impl BoundAddresses {
    fn announce(&self) {
        for (name, addr) in [
            ("gRPC", self.grpc),
            ("HTTP", self.http),
            ("Auth", self.auth),
            ("Healthz", self.healthz),
        ] {
            tracing::info!(server = name, address = %addr, "Listening on {addr} ({name})");
        }
    }
}

/// Binds `address`; Go's `:port` form (every interface) is accepted as 1.x accepted it.
async fn bind(name: &str, address: &str) -> anyhow::Result<TcpListener> {
    let resolved = match address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => address.to_owned(),
    };
    TcpListener::bind(&resolved)
        .await
        .with_context(|| format!("cannot listen on {address} for the {name} server"))
}

/// Binds `address` `count` times with `SO_REUSEPORT`, so that the kernel spreads new connections
/// over the sockets (one per auth worker, see [`forward_auth::server`]).
///
/// A port in use must still be an error, also when the other listener is a `finch` with its own
/// group: so the address is first bound plainly, which fails against any listener, and only
/// released to be bound again as the group, whose members then refuse any later plain bind.
/// Linux only lets sockets of the same user join a group.
async fn bind_shared(name: &str, address: &str, count: usize) -> anyhow::Result<Vec<TcpListener>> {
    let bound = bind(name, address).await?.local_addr();
    let address = bound.with_context(|| format!("cannot read the address bound for {name}"))?;
    let cannot = || format!("cannot listen on {address} for the {name} server");
    (0..count.max(1))
        .map(|_| {
            let socket = if address.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .with_context(cannot)?;
            socket.set_reuseaddr(true).with_context(cannot)?;
            socket.set_reuseport(true).with_context(cannot)?;
            socket.bind(address).with_context(cannot)?;
            socket.listen(LISTEN_BACKLOG).with_context(cannot)
        })
        .collect()
}

/// The SIGINT and SIGTERM streams, installed once at start.
struct ShutdownSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

// === impl ShutdownSignals ===

impl ShutdownSignals {
    fn install() -> anyhow::Result<ShutdownSignals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(ShutdownSignals {
            terminate: signal(SignalKind::terminate())
                .context("cannot install the SIGTERM handler")?,
            interrupt: signal(SignalKind::interrupt())
                .context("cannot install the SIGINT handler")?,
        })
    }

    /// Waits for SIGINT or SIGTERM and returns its name.
    async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}
