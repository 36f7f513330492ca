//! Handler tests: every route driven through the router with `oneshot`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use http::{Method, Request, StatusCode, header};
use time::{Duration, OffsetDateTime};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::clock::ManualClock;
use super::{DashboardState, router};
use crate::config::FinchConfig;
use crate::directory::Directory;
use crate::registry::Registry;
use crate::store::Store;
use crate::tokens::{Role, TokenKey};

const SECRET: &str = "dashboard-test-secret";

struct Fixture {
    app: Router,
    tokens: TokenKey,
    now: OffsetDateTime,
}

async fn fixture() -> Fixture {
    let config = FinchConfig::from_json(
        br#"{"created_at":"x","database":"sqlite://:memory:","hostname":"finch.example.com","id":"svc","secret":"dashboard-test-secret"}"#,
        PathBuf::from("/nonexistent"),
    )
    .unwrap();
    let store = Store::open(&config.database, &config.library_dir)
        .await
        .unwrap();
    let directory = Directory::load(&store, "svc").await.unwrap();
    let registry = Registry::new(store, directory, "svc".into());
    let tokens = TokenKey::new(SECRET.as_bytes());
    let now = OffsetDateTime::now_utc();
    let state = DashboardState::new(
        Arc::new(config),
        registry,
        tokens.clone(),
        CancellationToken::new(),
    )
    .with_clock(Arc::new(ManualClock::new(now)));
    Fixture {
        app: router(state),
        tokens,
        now,
    }
}

impl Fixture {
    fn token(&self, role: Role) -> String {
        self.tokens
            .mint_dashboard(role, &[], Duration::minutes(30), self.now)
            .token
    }

    fn expired_token(&self) -> String {
        self.tokens
            .mint_dashboard(
                Role::Viewer,
                &[],
                Duration::minutes(30),
                self.now - Duration::hours(1),
            )
            .token
    }

    async fn send(&self, request: Request<Body>) -> (http::response::Parts, String) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap();
        (parts, String::from_utf8_lossy(&body).into_owned())
    }

    async fn get(&self, uri: &str, cookie: Option<&str>) -> (http::response::Parts, String) {
        let mut request = Request::get(uri);
        if let Some(token) = cookie {
            request = request.header(header::COOKIE, format!("dashboard_token={token}"));
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

fn header_of<'a>(parts: &'a http::response::Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_security_headers(parts: &http::response::Parts) {
    for name in [
        "content-security-policy",
        "permissions-policy",
        "x-frame-options",
        "x-content-type-options",
        "x-xss-protection",
        "referrer-policy",
        "x-finch-commit",
        "x-finch-release",
    ] {
        assert!(parts.headers.contains_key(name), "missing {name}");
    }
    assert_eq!(header_of(parts, "x-frame-options"), Some("DENY"));
    assert!(
        header_of(parts, "content-security-policy").is_some_and(|csp| csp
            .contains("frame-ancestors 'none'")
            && !csp.contains("unsafe-inline"))
    );
}

#[tokio::test]
async fn login_page_without_token() {
    let f = fixture().await;
    let (parts, body) = f.get("/login", None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_security_headers(&parts);
    assert!(!parts.headers.contains_key("strict-transport-security"));
    assert!(body.contains("<title>Finch Dashboard - Login</title>"));
    assert!(body.contains(r#"name="token""#) && body.contains(r#"action="/login""#));
    assert!(body.contains("/dashboard/assets/login.js"));
    assert!(parts.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn login_with_query_token_sets_the_cookie() {
    let f = fixture().await;
    let (parts, _) = f
        .get(&format!("/login?token={}", f.token(Role::Viewer)), None)
        .await;
    assert_eq!(parts.status, StatusCode::SEE_OTHER);
    assert_eq!(header_of(&parts, "location"), Some("/dashboard"));
    let cookie = header_of(&parts, "set-cookie").unwrap();
    assert_eq!(
        cookie,
        format!(
            "dashboard_token={}; Path=/; HttpOnly; SameSite=Strict",
            f.token(Role::Viewer)
        )
    );
    assert!(!cookie.contains("Max-Age") && !cookie.contains("Expires"));
}

#[tokio::test]
async fn login_with_form_behind_https_sets_a_secure_cookie_and_hsts() {
    let f = fixture().await;
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .body(Body::from(format!("token={}", f.token(Role::Admin))))
        .unwrap();
    let (parts, _) = f.send(request).await;
    assert_eq!(parts.status, StatusCode::SEE_OTHER);
    assert_eq!(header_of(&parts, "location"), Some("/dashboard"));
    let cookie = header_of(&parts, "set-cookie").unwrap();
    assert!(
        cookie.ends_with("; Path=/; HttpOnly; SameSite=Strict; Secure"),
        "{cookie}"
    );
    assert_eq!(
        header_of(&parts, "strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
}

#[tokio::test]
async fn login_refusals_say_why() {
    let f = fixture().await;
    let (parts, body) = f.get("/login?token=not-a-token", None).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(body.contains("not a valid dashboard token"), "{body}");
    assert!(parts.headers.get(header::SET_COOKIE).is_none());
    let (_, body) = f
        .get(&format!("/login?token={}", f.expired_token()), None)
        .await;
    assert!(body.contains("This token has expired"), "{body}");
    let (_, body) = f.get("/login?error=expired", None).await;
    assert!(body.contains("Your session has expired"), "{body}");
    let (_, body) = f.get("/login?error=invalid", None).await;
    assert!(body.contains("Your session token is not valid"), "{body}");
    // 1.x's page posted `error=expired` on any close; that still works.
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("error=expired"))
        .unwrap();
    let (_, body) = f.send(request).await;
    assert!(body.contains("Your session has expired"), "{body}");
    // A message is text, not markup.
    let (_, body) = f.get("/login?error=%3Cscript%3E", None).await;
    assert!(!body.contains("<script>"));
}

#[tokio::test]
async fn login_with_other_methods_ignores_the_token() {
    let f = fixture().await;
    let request = Request::put(format!("/login?token={}", f.token(Role::Admin)))
        .body(Body::empty())
        .unwrap();
    let (parts, body) = f.send(request).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert!(parts.headers.get(header::SET_COOKIE).is_none());
    assert!(body.contains(r#"name="token""#));
}

#[tokio::test]
async fn dashboard_needs_a_session() {
    let f = fixture().await;
    let (parts, _) = f.get("/dashboard", None).await;
    assert_eq!(parts.status, StatusCode::SEE_OTHER);
    assert_eq!(header_of(&parts, "location"), Some("/login"));
    assert_security_headers(&parts);

    let (parts, body) = f.get("/dashboard", Some(&f.token(Role::Operator))).await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_security_headers(&parts);
    assert!(body.contains("finch.example.com"));
    assert!(body.contains(r#"data-role="operator""#));
    assert!(body.contains("/dashboard/assets/dashboard.js") && !body.contains("{{"));
}

#[tokio::test]
async fn expired_or_invalid_cookie_clears_itself_and_says_why() {
    let f = fixture().await;
    for (token, reason) in [
        (f.expired_token(), "expired"),
        ("garbage".to_owned(), "invalid"),
    ] {
        let (parts, _) = f.get("/dashboard", Some(&token)).await;
        assert_eq!(parts.status, StatusCode::SEE_OTHER);
        assert_eq!(
            header_of(&parts, "location").unwrap(),
            format!("/login?error={reason}")
        );
        assert_eq!(
            header_of(&parts, "set-cookie"),
            Some("dashboard_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
        );
    }
}

#[tokio::test]
async fn websocket_route_answers_401_without_a_valid_session() {
    let f = fixture().await;
    let (parts, body) = f.get("/ws", None).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, "Unauthorized");
    assert!(parts.headers.get(header::SET_COOKIE).is_none());
    let (parts, _) = f.get("/ws", Some(&f.expired_token())).await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    assert!(header_of(&parts, "set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
}

#[tokio::test]
async fn logout_is_post_only_and_clears_the_cookie() {
    let f = fixture().await;
    let token = f.token(Role::Viewer);
    let (parts, _) = f.get("/logout", Some(&token)).await;
    assert_eq!(parts.status, StatusCode::METHOD_NOT_ALLOWED);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/logout")
        .header(header::COOKIE, format!("dashboard_token={token}"))
        .body(Body::empty())
        .unwrap();
    let (parts, _) = f.send(request).await;
    assert_eq!(parts.status, StatusCode::SEE_OTHER);
    assert_eq!(header_of(&parts, "location"), Some("/login"));
    assert_eq!(
        header_of(&parts, "set-cookie"),
        Some("dashboard_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
    );
    assert_security_headers(&parts);
}

#[tokio::test]
async fn assets_are_embedded() {
    let f = fixture().await;
    for (name, kind) in [
        ("dashboard.js", "text/javascript; charset=utf-8"),
        ("login.js", "text/javascript; charset=utf-8"),
        ("dashboard.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let (parts, body) = f.get(&format!("/dashboard/assets/{name}"), None).await;
        assert_eq!(parts.status, StatusCode::OK, "{name}");
        assert_eq!(header_of(&parts, "content-type"), Some(kind));
        assert!(!body.is_empty());
        assert_security_headers(&parts);
    }
    let (parts, _) = f.get("/dashboard/assets/nope.js", None).await;
    assert_eq!(parts.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_paths_are_a_bare_404() {
    let f = fixture().await;
    for path in ["/", "/favicon.ico", "/dashboard/", "/login/x"] {
        let (parts, body) = f.get(path, None).await;
        assert_eq!(parts.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, "404 page not found\n");
        assert!(!parts.headers.contains_key("content-security-policy"));
    }
}
