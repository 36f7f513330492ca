//! The Mimir role: Debian's Prometheus, which speaks the same remote-write protocol, behind a
//! small front that speaks Mimir's paths.
//!
//! Prometheus refuses Mimir's flags and serves other paths, so the stand-in starts it as a
//! child (on loopback, data under Mimir's data directory, remote-write receiver on) and
//! forwards what reaches Mimir's port 8080: `/ready` (the `hc-mimir` probe) to `/-/ready`, a
//! push to `/api/v1/push` (what Traefik forwards for `https://HOST/mimir/api/v1/push`) to
//! `/api/v1/write`, and Mimir's query API under `/prometheus/api/v1/` to `/api/v1/`, so a
//! test reads back what was pushed. When Prometheus exits, so does the stand-in, and the
//! other way round.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::role::Role;
use crate::serve;

/// The Prometheus binary (Debian's package path).
const ENV_PROMETHEUS: &str = "FINCH_STANDIN_PROMETHEUS";
const DEFAULT_PROMETHEUS: &str = "/usr/bin/prometheus";
/// Where Prometheus keeps its configuration and database: beside Mimir's own data, in the
/// library's `mimir/data`, so it lives as long as the stack's metrics would.
const ENV_DATA: &str = "FINCH_STANDIN_DATA";
const DEFAULT_DATA: &str = "/var/lib/mimir/prometheus";
/// Where Prometheus listens: loopback only, the front is the only way in.
const ENV_PROMETHEUS_LISTEN: &str = "FINCH_STANDIN_PROMETHEUS_LISTEN";
const DEFAULT_PROMETHEUS_LISTEN: &str = "127.0.0.1:9090";
/// The request headers that carry the remote-write protocol and content negotiation.
const FORWARDED_HEADERS: [&str; 4] = [
    "content-type",
    "content-encoding",
    "x-prometheus-remote-write-version",
    "accept",
];
/// Longer than a remote write or query of a test ever takes.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Prometheus's configuration: nothing to scrape, every sample arrives by remote write.
const PROMETHEUS_CONFIG: &str =
    "# finch-standin mimir: no scrapes; samples arrive by remote write\nscrape_configs: []\n";

#[derive(Clone)]
struct Upstream {
    client: reqwest::Client,
    base: String,
}

/// Starts Prometheus and serves the front on `listener` until `shutdown` or Prometheus ends.
pub async fn run(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let setting = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.into());
    let data = PathBuf::from(setting(ENV_DATA, DEFAULT_DATA));
    let listen = setting(ENV_PROMETHEUS_LISTEN, DEFAULT_PROMETHEUS_LISTEN);
    let config = write_config(&data)?;
    let prometheus = setting(ENV_PROMETHEUS, DEFAULT_PROMETHEUS);
    let mut child = tokio::process::Command::new(&prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            data.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .arg("--web.enable-remote-write-receiver")
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start {prometheus}: {e}"))?;
    let upstream = Upstream {
        client: reqwest::Client::builder()
            .timeout(UPSTREAM_TIMEOUT)
            .build()?,
        base: format!("http://{listen}"),
    };
    let router = serve::logged(
        Router::new().fallback(forward).with_state(upstream),
        Role::Mimir,
    );
    let outcome = tokio::select! {
        served = serve::serve(listener, router, shutdown) => served,
        status = child.wait() => return Err(anyhow::anyhow!("prometheus ended: {}", status?)),
    };
    // Prometheus goes with the stand-in: its write-ahead log makes a kill safe.
    child.kill().await?;
    outcome
}

/// Writes Prometheus's configuration into `data` (atomically); its path.
fn write_config(data: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(data)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", data.display()))?;
    let path = data.join("prometheus.yml");
    let partial = data.join("prometheus.yml.partial");
    std::fs::write(&partial, PROMETHEUS_CONFIG)
        .and_then(|()| std::fs::rename(&partial, &path))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Prometheus's path for a request to Mimir's `path`, or `None` when Mimir's stand-in has none.
fn upstream_path(path: &str) -> Option<String> {
    match path {
        "/ready" => Some("/-/ready".to_owned()),
        "/api/v1/push" => Some("/api/v1/write".to_owned()),
        _ => path
            .strip_prefix("/prometheus")
            .filter(|rest| rest.starts_with("/api/v1/"))
            .map(str::to_owned),
    }
}

async fn forward(
    State(upstream): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(path) = upstream_path(uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut request = upstream
        .client
        .request(method, format!("{}{path}{query}", upstream.base))
        .body(body);
    for name in FORWARDED_HEADERS {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let answer = async {
        let response = request.send().await?;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        Ok::<_, reqwest::Error>((status, content_type, response.bytes().await?))
    };
    match answer.await {
        Ok((status, content_type, body)) => {
            let mut response = (status, body).into_response();
            if let Some(value) = content_type {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        // Prometheus still starting (or gone): Mimir answers 503 while it is not ready.
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("prometheus: {e}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mimir_paths_map_to_prometheus_paths() {
        assert_eq!(upstream_path("/ready").as_deref(), Some("/-/ready"));
        assert_eq!(
            upstream_path("/api/v1/push").as_deref(),
            Some("/api/v1/write")
        );
        assert_eq!(
            upstream_path("/prometheus/api/v1/query").as_deref(),
            Some("/api/v1/query")
        );
        for unknown in [
            "/",
            "/otlp/v1/metrics",
            "/prometheus/-/quit",
            "/api/v1/write",
        ] {
            assert_eq!(upstream_path(unknown), None, "{unknown}");
        }
    }
}
