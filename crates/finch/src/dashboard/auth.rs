//! The session check in front of `/dashboard`, `/ws` and `/logout`.
//!
//! A valid `dashboard_token` cookie puts a [`Session`] into the request. Without one, `/ws`
//! answers 401 and the pages redirect (303) to `/login`; with an invalid or expired one the
//! cookie is also cleared and the redirect carries the reason (`/login?error=expired` or
//! `?error=invalid`), which the login page turns into a sentence. The reason is a fixed word,
//! never the token.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http::{StatusCode, header};

use super::{DashboardState, cookie, headers::is_https};
use crate::tokens::{DashboardClaims, TokenError};

/// A signed-in dashboard user.
#[derive(Clone)]
pub struct Session {
    /// The token from the cookie, re-checked while a WebSocket stays open.
    pub token: String,
    /// What it allows.
    pub claims: DashboardClaims,
}

/// Why the login page is shown; the words travel in `?error=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReason {
    /// The session token expired.
    Expired,
    /// The session token is not valid (another secret, tampered, malformed).
    Invalid,
}

// === impl LoginReason ===

impl LoginReason {
    /// The reason for a token error.
    pub fn of(error: TokenError) -> LoginReason {
        match error {
            TokenError::Expired => LoginReason::Expired,
            _ => LoginReason::Invalid,
        }
    }

    /// The `?error=` word.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginReason::Expired => "expired",
            LoginReason::Invalid => "invalid",
        }
    }

    /// Reads an `?error=` word.
    pub fn parse(word: &str) -> Option<LoginReason> {
        match word {
            "expired" => Some(LoginReason::Expired),
            "invalid" => Some(LoginReason::Invalid),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

/// Lets the request through with a [`Session`], or answers as described in the module docs.
pub async fn require_session(
    State(state): State<DashboardState>,
    mut request: Request,
    next: Next,
) -> Response {
    let is_ws = request.uri().path() == "/ws";
    let https = is_https(request.headers());
    let Some(token) = cookie::read(request.headers()).map(str::to_owned) else {
        if is_ws {
            tracing::warn!("Unauthorized WebSocket connection attempt");
            return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
        }
        return Redirect::to("/login").into_response();
    };
    let now = state.clock().now().unix_timestamp();
    match state.tokens().verify_dashboard(&token, now) {
        Ok(claims) => {
            request.extensions_mut().insert(Session { token, claims });
            next.run(request).await
        }
        Err(error) => {
            let reason = LoginReason::of(error);
            let mut response = if is_ws {
                tracing::warn!(
                    reason = error.as_str(),
                    "Unauthorized WebSocket connection attempt with invalid token"
                );
                (StatusCode::UNAUTHORIZED, "Unauthorized").into_response()
            } else {
                tracing::debug!(reason = error.as_str(), "dashboard session refused");
                Redirect::to(&format!("/login?error={}", reason.as_str())).into_response()
            };
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie::clear(https));
            response
        }
    }
}
