//! The dashboard listener (`:3001`): a read-only, live view of the fleet for people who hold a
//! dashboard token.
//!
//! Routes are Finch 1.x's: `/login` (GET `?token=`, POST form, and the `/login#token=…` form
//! whose page posts the fragment so the token never reaches a URL a proxy logs), `/logout` (POST
//! only), `/dashboard` and `/ws`; plus `/dashboard/assets/*`, the page's own CSS and JavaScript,
//! embedded in the binary (the stack may be offline, so no CDN). Every route but the 404 carries
//! 1.x's security headers ([`headers`]). The session is the `dashboard_token` cookie holding the
//! dashboard JWT ([`cookie`], [`auth`]); an invalid or expired one clears itself and sends the
//! browser to the login page with the reason.
//!
//! The live view is a WebSocket ([`ws`]) with 1.x's message types; unlike 1.x, each connection
//! has exactly one writer task, a read size limit, ping/pong, per-connection rate limiting and
//! a token re-check every 30 s. Roles and scope ([`crate::store::AgentScope`],
//! [`crate::tokens::Role`]) are applied to every read and action. The protocol is documented in
//! `docs/dashboard.md`.

pub mod auth;
pub mod clock;
pub mod cookie;
pub mod headers;
pub mod login;
pub mod page;
pub mod view;
pub mod ws;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{any, get};
use http::StatusCode;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::config::{DEFAULT_DASHBOARD_PAGE_SIZE, FinchConfig};
use crate::directory::DirectoryEvent;
use crate::registry::Registry;
use crate::tokens::TokenKey;
use clock::{Clock, SystemClock};

/// How often an open WebSocket re-checks its session token, as in 1.x: a session ends at most
/// this long after its token expires.
pub const DEFAULT_REVALIDATE_EVERY: Duration = Duration::from_secs(30);

/// How often the server pings an idle WebSocket. Traefik and most proxies close idle
/// connections after 60 s or more; a ping every 20 s keeps the page's connection open through
/// them and lets the server notice a peer that vanished without a close.
pub const DEFAULT_PING_EVERY: Duration = Duration::from_secs(20);

/// The fewest time between two list refreshes pushed to one page. A burst of registrations
/// becomes one refresh; a wall screen stays calm; the database sees at most two page queries per
/// second per open dashboard whatever the churn.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// How often an open page is refreshed even without agent changes. `last_seen` writes do not
/// announce themselves (they are batched off the auth path and bump no change counter), so
/// liveness states and the active count would otherwise freeze on a wall screen; 30 s is the
/// interval at which `last_seen` itself moves.
pub const DEFAULT_LIVENESS_REFRESH: Duration = Duration::from_secs(30);

/// The tunables of the dashboard; tests shorten the intervals.
#[derive(Debug, Clone)]
pub struct DashboardSettings {
    /// Agents per page.
    pub page_size: u32,
    /// How often an open WebSocket re-validates its token.
    pub revalidate_every: Duration,
    /// How often the server pings; a peer silent for two intervals is dropped.
    pub ping_every: Duration,
    /// The fewest time between two pushed refreshes.
    pub refresh_interval: Duration,
    /// How often the page is refreshed without changes, for liveness.
    pub liveness_refresh: Duration,
}

/// What every dashboard handler reads. Cheap to clone.
#[derive(Clone)]
pub struct DashboardState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<FinchConfig>,
    registry: Registry,
    tokens: TokenKey,
    clock: Arc<dyn Clock>,
    settings: DashboardSettings,
    shutdown: CancellationToken,
    subscriptions: Arc<AtomicUsize>,
}

/// A subscription to agent changes that is counted while it lives (see
/// [`DashboardState::live_subscriptions`]).
pub struct Subscription {
    /// The receiver.
    pub events: broadcast::Receiver<DirectoryEvent>,
    count: Arc<AtomicUsize>,
}

// === impl DashboardSettings ===

impl DashboardSettings {
    /// The defaults, with the page size `finch.json` asks for.
    pub fn from_config(config: &FinchConfig) -> DashboardSettings {
        DashboardSettings {
            page_size: config
                .dashboard_page_size
                .unwrap_or(DEFAULT_DASHBOARD_PAGE_SIZE),
            revalidate_every: DEFAULT_REVALIDATE_EVERY,
            ping_every: DEFAULT_PING_EVERY,
            refresh_interval: DEFAULT_REFRESH_INTERVAL,
            liveness_refresh: DEFAULT_LIVENESS_REFRESH,
        }
    }
}

// === impl DashboardState ===

impl DashboardState {
    /// The state of a dashboard over `registry`, whose WebSockets close when `shutdown` fires
    /// (graceful shutdown does not cover upgraded connections).
    pub fn new(
        config: Arc<FinchConfig>,
        registry: Registry,
        tokens: TokenKey,
        shutdown: CancellationToken,
    ) -> DashboardState {
        let settings = DashboardSettings::from_config(&config);
        DashboardState {
            inner: Arc::new(Inner {
                config,
                registry,
                tokens,
                clock: Arc::new(SystemClock),
                settings,
                shutdown,
                subscriptions: Arc::new(AtomicUsize::new(0)),
            }),
        }
    }

    /// The same state reading time from `clock` (tests move it by hand).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> DashboardState {
        self.rebuild(|inner| inner.clock = clock)
    }

    /// The same state with other tunables.
    pub fn with_settings(self, settings: DashboardSettings) -> DashboardState {
        self.rebuild(|inner| inner.settings = settings)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> DashboardState {
        let mut inner = Inner {
            config: Arc::clone(&self.inner.config),
            registry: self.inner.registry.clone(),
            tokens: self.inner.tokens.clone(),
            clock: Arc::clone(&self.inner.clock),
            settings: self.inner.settings.clone(),
            shutdown: self.inner.shutdown.clone(),
            subscriptions: Arc::clone(&self.inner.subscriptions),
        };
        change(&mut inner);
        DashboardState {
            inner: Arc::new(inner),
        }
    }

    /// How many WebSocket connections hold a subscription to agent changes right now.
    pub fn live_subscriptions(&self) -> usize {
        self.inner.subscriptions.load(Ordering::SeqCst)
    }

    /// Subscribes to agent changes, counted until the subscription is dropped.
    pub fn subscribe(&self) -> Subscription {
        let events = self.inner.registry.directory().subscribe();
        self.inner.subscriptions.fetch_add(1, Ordering::SeqCst);
        Subscription {
            events,
            count: Arc::clone(&self.inner.subscriptions),
        }
    }

    pub(crate) fn config(&self) -> &FinchConfig {
        &self.inner.config
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn tokens(&self) -> &TokenKey {
        &self.inner.tokens
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub(crate) fn settings(&self) -> &DashboardSettings {
        &self.inner.settings
    }

    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
}

impl std::fmt::Debug for DashboardState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardState")
            .field("settings", &self.inner.settings)
            .field("live_subscriptions", &self.live_subscriptions())
            .finish_non_exhaustive()
    }
}

// === impl Subscription ===

impl Drop for Subscription {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The dashboard's routes. Everything outside them is a bare 404, without security headers,
/// as in 1.x.
pub fn router(state: DashboardState) -> Router {
    let signed_in = Router::new()
        .route("/dashboard", any(page::dashboard))
        .route("/ws", any(ws::upgrade))
        .route("/logout", any(login::logout))
        .route_layer(from_fn_with_state(state.clone(), auth::require_session));
    Router::new()
        .route("/login", any(login::login))
        .route("/dashboard/assets/{name}", get(page::asset))
        .merge(signed_in)
        .route_layer(from_fn(headers::security_headers))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "404 page not found\n")
}
