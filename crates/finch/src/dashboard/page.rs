//! The two HTML pages and the embedded assets.
//!
//! The pages are small templates with `{{name}}` slots filled with HTML-escaped values; all
//! agent data arrives over the WebSocket as JSON and the page's script puts it into the DOM as
//! text, so nothing from an agent is ever parsed as HTML. Assets are compiled into the binary.

use axum::extract::{Extension, Path, State};
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::DashboardState;
use super::auth::Session;
use crate::version;

const LOGIN_HTML: &str = include_str!("assets/login.html");
const DASHBOARD_HTML: &str = include_str!("assets/dashboard.html");

/// The embedded assets: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/dashboard.css"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/dashboard.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/login.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("assets/favicon.svg"),
    ),
];

/// `/dashboard`: the page, for the signed-in role.
pub async fn dashboard(
    State(state): State<DashboardState>,
    Extension(session): Extension<Session>,
) -> Response {
    let commit_short: String = version::COMMIT.chars().take(7).collect();
    let html = fill(
        DASHBOARD_HTML,
        &[
            ("hostname", &state.config().hostname),
            ("release", version::RELEASE),
            ("commit", version::COMMIT),
            ("commit_short", &commit_short),
            ("role", session.claims.role.as_str()),
        ],
    );
    no_store(Html(html).into_response())
}

/// The login page, with `message` if there is something to say.
pub fn login_page(message: Option<&str>) -> Response {
    let (class, message) = match message {
        Some(message) => ("message", message),
        None => ("message hidden", ""),
    };
    let html = fill(
        LOGIN_HTML,
        &[("message_class", class), ("message", message)],
    );
    no_store(Html(html).into_response())
}

/// `/dashboard/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                // Assets change with the binary; a short cache spares a wall screen's reloads.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    }
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Replaces each `{{name}}` in `template` with the HTML-escaped value.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), &escape_html(value));
    }
    out
}

/// Escapes text for an HTML element or a quoted attribute.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_escapes() {
        assert_eq!(
            fill("<b>{{x}}</b>{{x}}", &[("x", "<a href=\"'\">&")]),
            "<b>&lt;a href=&quot;&#39;&quot;&gt;&amp;</b>&lt;a href=&quot;&#39;&quot;&gt;&amp;"
        );
    }

    #[test]
    fn every_page_slot_is_filled() {
        let login = fill(LOGIN_HTML, &[("message_class", "m"), ("message", "x")]);
        assert!(!login.contains("{{"), "{login}");
    }
}
