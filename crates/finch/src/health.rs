//! The healthz listener: `/healthz` for the stack's health checks and `/metrics` for Prometheus.
//!
//! `/healthz` answers 200 when the database answers *and accepts writes* (a write probe that is
//! rolled back), 500 otherwise, both with an empty body. Unlike Finch 1.x it also answers HEAD.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};

use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::version;

/// The longest a health check waits for the database; the stack's checker gives up at 3 s.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// What the healthz listener reads.
#[derive(Debug)]
pub struct HealthState {
    /// The database to probe.
    pub store: Store,
    /// The live agents, for the agent gauge.
    pub directory: Directory,
    /// Everything `/metrics` renders.
    pub metrics: Arc<Metrics>,
}

/// The healthz routes. `get` also answers HEAD, without a body.
pub fn router(state: HealthState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::map_response(version_headers))
        .with_state(Arc::new(state))
}

async fn healthz(State(state): State<Arc<HealthState>>) -> StatusCode {
    match tokio::time::timeout(CHECK_TIMEOUT, state.store.health_check()).await {
        Ok(Ok(())) => {
            tracing::debug!("health check passed");
            StatusCode::OK
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "database ping failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        Err(_) => {
            tracing::error!(
                timeout_ms = CHECK_TIMEOUT.as_millis() as u64,
                "database ping failed: no answer in time"
            );
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

async fn metrics(State(state): State<Arc<HealthState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(&state.directory),
    )
        .into_response()
}

/// Adds `X-Finch-Release` and `X-Finch-Commit`, as 1.x does on healthz.
pub async fn version_headers(mut response: Response) -> Response {
    version::add_headers(response.headers_mut());
    response
}
