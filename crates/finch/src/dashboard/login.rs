//! `/login` and `/logout`.
//!
//! `/login` takes the token from the query (GET `?token=`, kept for 1.x links) or from a form
//! (POST `token=`, which is what the `/login#token=…` page submits: a URL fragment never reaches
//! a server or a proxy log). A valid token sets the cookie and redirects (303) to `/dashboard`;
//! an invalid one shows the form again with the reason. `error=expired|invalid` (query or form)
//! shows why a session ended. Other methods act as if no token was given, as in 1.x.
//!
//! `/logout` is POST only (405 otherwise): it clears the cookie and redirects to `/login`.
//! Dashboard tokens cannot be revoked, so logging out only forgets the token in this browser.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{Method, StatusCode, header};

use super::auth::LoginReason;
use super::page::login_page;
use super::{DashboardState, cookie, headers::is_https};
use crate::tokens::TokenError;

/// The largest login form read: a dashboard token with a long scope fits many times over.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What the login form and query may carry.
#[derive(Debug, Default)]
struct LoginInput {
    token: String,
    error: Option<LoginReason>,
}

/// `/login`.
pub async fn login(State(state): State<DashboardState>, request: Request) -> Response {
    let https = is_https(request.headers());
    let input = match read_input(request).await {
        Ok(input) => input,
        Err(response) => return response,
    };
    let token = input.token.trim();
    if token.is_empty() {
        return login_page(input.error.map(reason_message)).into_response();
    }
    let now = state.clock().now().unix_timestamp();
    match state.tokens().verify_dashboard(token, now) {
        Ok(claims) => {
            let Some(set_cookie) = cookie::set(token, https) else {
                return login_page(Some(token_message(TokenError::Malformed))).into_response();
            };
            tracing::info!(role = %claims.role, "dashboard login");
            let mut response = Redirect::to("/dashboard").into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, set_cookie);
            response
        }
        Err(error) => {
            tracing::warn!(reason = error.as_str(), "dashboard login refused");
            login_page(Some(token_message(error))).into_response()
        }
    }
}

/// `/logout`.
pub async fn logout(request: Request) -> Response {
    if request.method() != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie::clear(is_https(request.headers())),
    );
    response
}

async fn read_input(request: Request) -> Result<LoginInput, Response> {
    let mut input = LoginInput::default();
    if let Some(query) = request.uri().query() {
        // Only GET takes a token from the query; any method may carry the reason.
        let take_token = request.method() == Method::GET;
        apply(&mut input, query.as_bytes(), take_token);
    }
    if request.method() == Method::POST {
        let body = to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large").into_response())?;
        apply(&mut input, &body, true);
    }
    Ok(input)
}

fn apply(input: &mut LoginInput, form: &[u8], take_token: bool) {
    for (key, value) in url::form_urlencoded::parse(form) {
        match key.as_ref() {
            "token" if take_token => input.token = value.into_owned(),
            "error" => input.error = LoginReason::parse(&value).or(input.error),
            _ => {}
        }
    }
}

/// Why a session ended, as the login page says it.
pub fn reason_message(reason: LoginReason) -> &'static str {
    match reason {
        LoginReason::Expired => {
            "Your session has expired. Please sign in with a new token (finchctl service dashboard)."
        }
        LoginReason::Invalid => {
            "Your session token is not valid for this Finch. Please sign in with a new token."
        }
    }
}

/// Why a token given to the form was refused.
pub fn token_message(error: TokenError) -> &'static str {
    match error {
        TokenError::Expired => {
            "This token has expired. Please ask for a new one (finchctl service dashboard)."
        }
        _ => "This token is not a valid dashboard token for this Finch. Please try again.",
    }
}
