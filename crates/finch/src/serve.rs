//! Serving a router on a bound listener, and draining it on shutdown.
//!
//! The dashboard, gRPC and health listeners use [`serve`]: HTTP/1.1 and HTTP/2 with prior
//! knowledge (h2c, which gRPC through Traefik needs) on the same port, the peer address handed to
//! handlers as `ConnectInfo`. On shutdown a listener stops accepting, open connections finish
//! their in-flight requests, and whatever is still open at the deadline is dropped (and logged).
//! The ForwardAuth listener serves its own HTTP/1.1 ([`crate::forward_auth::server`]) but
//! accepts with the same [`next_connection`] and logs connections with the same [`logged`].

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// How long a slow client may take to send request headers before the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown`, then drains for at most `drain`.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    accept_until(name, listener, shutdown, drain, |stream, peer, graceful| {
        let service =
            router
                .clone()
                .map_request(move |mut request: http::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    request
                });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        tokio::spawn(logged(name, graceful.watch(connection)));
    })
    .await;
}

/// Runs `connection` to its end and logs (at debug) how it failed.
pub async fn logged<E: std::fmt::Display>(
    name: &'static str,
    connection: impl Future<Output = Result<(), E>>,
) {
    if let Err(error) = connection.await {
        tracing::debug!(server = name, %error, "connection ended with an error");
    }
}

/// Accepts connections on `listener` and hands each to `on_accept` (with the graceful-shutdown
/// tracker its connection must be watched by) until `shutdown`; then stops accepting and waits
/// at most `drain` for the watched connections to finish.
pub async fn accept_until(
    name: &'static str,
    listener: TcpListener,
    shutdown: CancellationToken,
    drain: Duration,
    mut on_accept: impl FnMut(TcpStream, SocketAddr, &GracefulShutdown),
) {
    let graceful = GracefulShutdown::new();
    while let Some((stream, peer)) = next_connection(name, &listener, &shutdown).await {
        on_accept(stream, peer, &graceful);
    }
    drop(listener);
    drained(name, drain, graceful.shutdown()).await;
}

/// The next connection on `listener`, with no delay set; `None` once `shutdown` fires.
pub async fn next_connection(
    name: &'static str,
    listener: &TcpListener,
    shutdown: &CancellationToken,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return None,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return Some((stream, peer));
                }
                Err(error) => {
                    // Out of file descriptors and the like: log, breathe, go on.
                    tracing::warn!(server = name, %error, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Waits at most `drain` for `connections` to finish, and logs if they did not.
pub async fn drained(name: &'static str, drain: Duration, connections: impl Future<Output = ()>) {
    if tokio::time::timeout(drain, connections).await.is_err() {
        tracing::warn!(
            server = name,
            deadline_ms = drain.as_millis() as u64,
            "connections still open at the drain deadline were closed"
        );
    }
}
