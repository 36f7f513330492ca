//! `/ws`: the dashboard's live view.
//!
//! The upgrade is refused with 403 unless the `Origin` header's host name equals the configured
//! `hostname` (scheme and port ignored, as 1.x): together with the `SameSite=Strict` cookie this
//! keeps other sites from opening a socket in a user's name. A connection then has:
//!
//! - **one writer**: a task that owns the socket's sink and takes frames from a bounded queue
//!   ([`connection`]); everything else only queues;
//! - **one session loop** that reads client messages, answers them ([`actions`]), follows agent
//!   changes, pings, and re-checks the token every 30 s;
//! - a read limit of [`MAX_MESSAGE_BYTES`] per message, and a rate limit on client messages.
//!
//! When either half ends, the other is stopped and the subscription to agent changes is dropped
//! with the session. See `docs/dashboard.md` for the messages.

pub mod actions;
pub mod connection;
pub mod protocol;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use super::DashboardState;
use super::auth::Session;

/// The largest client message read. Client messages are a page number, a search or a resource
/// id; 16 KiB is far more than any needs and keeps a hostile client from making us buffer much.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// `/ws`: checks the origin and upgrades.
pub async fn upgrade(
    State(state): State<DashboardState>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(refusal) = check_origin(&headers, &state.config().hostname) {
        tracing::warn!(
            reason = refusal,
            "WebSocket connection refused: origin not allowed"
        );
        return (StatusCode::FORBIDDEN, "Forbidden").into_response();
    }
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| connection::run(socket, state, session))
}

/// Accepts an `Origin` whose host name equals `hostname` (ASCII case-insensitive).
pub fn check_origin(headers: &HeaderMap, hostname: &str) -> Result<(), &'static str> {
    let origin = headers
        .get(header::ORIGIN)
        .ok_or("missing Origin header")?
        .to_str()
        .map_err(|_| "Origin header is not text")?;
    let url = url::Url::parse(origin).map_err(|_| "Origin header is not a URL")?;
    let host = url.host_str().ok_or("Origin header has no host")?;
    let unbracket = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_owned();
    if unbracket(host).eq_ignore_ascii_case(&unbracket(hostname.trim())) {
        Ok(())
    } else {
        Err("Origin host differs from the configured hostname")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn origin(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn origin_host_must_match() {
        assert!(check_origin(&origin("https://finch.example.com"), "finch.example.com").is_ok());
        assert!(
            check_origin(
                &origin("http://FINCH.example.com:8080"),
                "finch.example.com"
            )
            .is_ok()
        );
        assert!(check_origin(&origin("http://[::1]:3001"), "::1").is_ok());
        assert!(check_origin(&origin("https://evil.example.com"), "finch.example.com").is_err());
        assert!(
            check_origin(
                &origin("https://finch.example.com.evil"),
                "finch.example.com"
            )
            .is_err()
        );
        assert!(check_origin(&origin("null"), "finch.example.com").is_err());
        assert!(check_origin(&HeaderMap::new(), "finch.example.com").is_err());
    }
}
