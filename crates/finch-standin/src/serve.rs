//! The HTTP side every role shares: its routes, one log line per request, and a shutdown on
//! SIGTERM (what `docker stop` sends) or SIGINT, so a container stops at once.

use std::future::Future;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::role::Role;

/// The role's routes: its health path, its push paths and its pages, logged.
pub fn router(role: Role) -> Router {
    let mut router = Router::new().route(role.ready_path(), get(|| async { "ready\n" }));
    for path in role.push_paths() {
        router = router.route(path, post(move || async move { push_status(role) }));
    }
    let router = router.fallback(move |method: Method, uri: Uri| async move {
        match role.pages() {
            Some(prefix) if method == Method::GET && uri.path().starts_with(prefix) => (
                StatusCode::OK,
                format!(
                    "finch-standin {}: a stand-in, not the real service\n",
                    role.name()
                ),
            ),
            _ => (StatusCode::NOT_FOUND, "not found\n".to_owned()),
        }
    });
    logged(router, role)
}

/// `router` with one line per request on stdout: role, method, path and status (never the
/// query or headers, which may carry a token).
pub fn logged(router: Router, role: Role) -> Router {
    router.layer(middleware::from_fn_with_state(role, log))
}

/// Serves `router` on the bound `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// What the real service answers an accepted push with.
fn push_status(role: Role) -> StatusCode {
    match role {
        Role::Loki => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    }
}

async fn log(State(role): State<Role>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    println!(
        "finch-standin {} {method} {path} {}",
        role.name(),
        response.status().as_u16()
    );
    response
}
