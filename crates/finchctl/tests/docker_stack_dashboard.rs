//! The dashboard of a deployed stack in headless Chromium, through the stack's own Traefik
//! (the [`stack_bed`]: deployed by finchctl over OpenSSH into the test Docker Engine).
//!
//! A person signs in with what `finchctl service dashboard` prints (the login page's URL and a
//! token), reads the stats, searches, watches an agent registered meanwhile appear without a
//! reload (the live view is a WebSocket through Traefik) and turn "Active" after its first push
//! through Traefik, opens its token, downloads its config (whose push URLs, like the endpoints the
//! page lists, name the published port) and logs out. The page is kept as
//! `target/test-artifacts/stack-dashboard/dashboard.png`.
//!
//! Chromium trusts the stack's self-signed certificate by its pin alone
//! (`--ignore-certificate-errors-spki-list` with the SHA-256 of its public key, as Chromium
//! takes it), never every certificate; a browser with another pin is refused. The bed publishes
//! HTTPS on a free port, and the login URL `service dashboard` prints names it
//! (`https://127.0.0.1:PORT/login`): the browser opens it as printed.
//! At the end the test prints what it checked and, from Traefik's access log, how many requests
//! each route served and refused.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod ssh;
mod stack_bed;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use docker::https::StackHttps;
use finch_testkit::browser::Browser;
use finch_testkit::{DEADLINE, eventually, remote_write};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use stack_bed::{Bed, METRICS_AND_JOURNAL};

/// The stack's self-signed certificate in the library.
const CERT: &str = "traefik/etc/certs.d/cert.pem";
/// Where the screenshots go, under `target/test-artifacts/`.
const ARTIFACTS: &str = "stack-dashboard";
/// `last_seen` is written at most 5 s after a push and an open page refreshes liveness every
/// 30 s (`finch::dashboard::DEFAULT_LIVENESS_REFRESH`): "Active" shows within both, with room.
const ACTIVE_WITHIN: Duration = Duration::from_secs(90);
/// Traefik's read timeout on entry points (its default since 2.11.2; the render keeps it): the
/// page's WebSocket must outlive it, so the page stays open a little longer before logging out.
const TRAEFIK_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The whole journey in the browser, once the stack is up.
const JOURNEY: Duration = Duration::from_secs(300);

/// Chromium's pin of a certificate: base64 of the SHA-256 of its SubjectPublicKeyInfo.
fn spki_pin(cert_pem: &str) -> String {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).unwrap();
    let cert = pem.parse_x509().unwrap();
    let digest = Sha256::digest(cert.tbs_certificate.subject_pki.raw);
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// What the test checked, in order, printed at the end.
#[derive(Default)]
struct Checked(Vec<String>);

impl Checked {
    fn ok(&mut self, what: impl Into<String>) {
        let what = what.into();
        eprintln!("checked: {what}");
        self.0.push(what);
    }
}

/// A stack's pieces the journey needs.
struct Journey<'a> {
    bed: &'a Bed,
    https: StackHttps,
    browser: &'a Browser,
    /// Where the browser reaches the stack: `https://127.0.0.1:PORT`.
    origin: String,
    checked: Checked,
    /// The screenshot of the dashboard, once taken.
    page: Option<PathBuf>,
    /// When the page signed in and opened its WebSocket.
    signed_in: Option<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_through_the_deployed_traefik() {
    if !Browser::available() {
        return;
    }
    let Some(bed) = Bed::new() else {
        return;
    };
    bed.deploy(&[]).await;
    let cert_pem = bed.read(CERT);
    let pin = spki_pin(&cert_pem);
    let origin = format!("https://127.0.0.1:{}", bed.https);

    let browser = Browser::start(
        ARTIFACTS,
        &[format!("--ignore-certificate-errors-spki-list={pin}")],
    )
    .await;
    let mut journey = Journey {
        bed: &bed,
        https: StackHttps {
            port: bed.https,
            cert_pem,
            host: "127.0.0.1".into(),
        },
        browser: &browser,
        origin: origin.clone(),
        checked: Checked::default(),
        page: None,
        signed_in: None,
    };
    let finished = tokio::time::timeout(JOURNEY, journey.run()).await;
    let Journey {
        mut checked, page, ..
    } = journey;
    if finished.is_err() {
        browser.screenshot("failed-timeout").await;
    }
    browser.stop().await;
    finished.expect("the journey finished in time");
    let page = page.expect("a screenshot of the dashboard");
    checked.ok(format!("a screenshot of the page: {}", page.display()));

    // The same page with another pin: Chromium refuses the certificate.
    let other = Browser::start(
        &format!("{ARTIFACTS}-other-pin"),
        &[format!(
            "--ignore-certificate-errors-spki-list={}",
            spki_pin(&other_cert())
        )],
    )
    .await;
    let _ = other.client.goto(&format!("{origin}/login")).await;
    let refused = other
        .js("return document.getElementById('login-form') === null \
             && document.documentElement.outerHTML.includes('ERR_CERT_AUTHORITY_INVALID');")
        .await;
    other.stop().await;
    assert_eq!(refused, Value::Bool(true), "a browser with another pin");
    checked.ok("a browser pinning another key is refused the stack's certificate");

    report(&checked);
}

/// A certificate of a key the stack does not have.
fn other_cert() -> String {
    let now = time::OffsetDateTime::now_utc();
    finchctl::mtls::generate("127.0.0.1", "rid:finchctl:ffffffffffffffff", now)
        .unwrap()
        .cert_pem
}

impl Journey<'_> {
    async fn run(&mut self) {
        for host in ["web-01", "web-02", "db-01"] {
            self.bed.register(host, METRICS_AND_JOURNAL).await;
        }
        self.sign_in().await;
        self.stats_and_search().await;
        self.live_agent_turns_active().await;
        self.token_and_config().await;
        self.endpoints().await;
        self.websocket_refusals().await;
        self.log_out().await;
    }

    /// Signs in as a person would: opens the URL `service dashboard` prints and pastes the
    /// token it prints.
    async fn sign_in(&mut self) {
        let run = self
            .bed
            .finchctl(&[
                "service",
                "dashboard",
                &self.bed.service(),
                "--permission.role",
                "admin",
                "-o",
                "json",
            ])
            .await;
        assert_eq!(run.code, Some(0), "service dashboard: {run:#?}");
        let login: Value = serde_json::from_str(&run.stdout).unwrap();
        let url = login["dashboard_url"].as_str().unwrap();
        assert_eq!(url, format!("{}/login", self.origin), "the published port");
        let b = self.browser;
        b.client.goto(url).await.unwrap();
        b.wait_until("return !!document.getElementById('token');", "login page")
            .await;
        b.type_into("#token", login["token"].as_str().unwrap())
            .await;
        b.click("#login-form button[type='submit']").await;
        b.wait_until(
            "return location.pathname === '/dashboard' && document.querySelectorAll('.agent-hostname').length > 0;",
            "signed in",
        )
        .await;
        self.signed_in = Some(Instant::now());
        let href = b.client.current_url().await.unwrap();
        assert_eq!(
            href.as_str(),
            format!("{}/dashboard", self.origin),
            "no token in the URL"
        );
        self.checked.ok(format!(
            "signed in through {url} with the token `service dashboard` printed"
        ));
    }

    async fn stats_and_search(&mut self) {
        let b = self.browser;
        b.wait_until(
            "return document.querySelector('[data-stat=\"total_agents\"]').textContent === '3' \
             && document.querySelector('[data-stat=\"active_agents\"]').textContent === '0' \
             && document.querySelector('[data-stat=\"metrics_enabled\"]').textContent === '3';",
            "stats",
        )
        .await;
        self.checked
            .ok("stats: 3 agents, 0 active, 3 sending metrics");
        b.type_into("#search", "web").await;
        b.wait_for_agents(&["web-01", "web-02"], "search web").await;
        b.type_into("#search", "db-01").await;
        b.wait_for_agents(&["db-01"], "search db-01").await;
        self.checked
            .ok("search: `web` lists web-01 and web-02, `db-01` lists db-01");
    }

    /// An agent registered while the page is open appears without a reload (the WebSocket
    /// through Traefik), and turns "Active" after its first push through Traefik.
    async fn live_agent_turns_active(&mut self) {
        let b = self.browser;
        b.search_for_none("cache").await;
        let token = self
            .bed
            .register("cache-01", METRICS_AND_JOURNAL)
            .await
            .token();
        b.wait_for_agents(&["cache-01"], "live registration").await;
        b.wait_until(
            "return document.querySelector('.agent .badge')?.textContent === 'Never seen';",
            "never seen",
        )
        .await;
        self.checked
            .ok("cache-01, registered with finchctl, appeared without a reload as `Never seen`");

        let body = remote_write::write_request("finch_dashboard_e2e", &[], 1.0, now_ms());
        let mut headers: Vec<(&str, &str)> = remote_write::HEADERS.to_vec();
        let authorization = format!("Bearer {token}");
        headers.push(("Authorization", &authorization));
        let answer = self
            .https
            .request("POST", "/mimir/api/v1/push", &headers, &body)
            .await
            .unwrap();
        assert!((200..300).contains(&answer.status), "{answer:?}");
        b.wait_until_within(
            ACTIVE_WITHIN,
            "return document.querySelector('.agent .badge')?.textContent === 'Active' \
             && document.querySelector('[data-stat=\"active_agents\"]').textContent === '1';",
            "active after a push",
        )
        .await;
        b.assert_not_reloaded().await;
        self.page = Some(b.screenshot("dashboard").await);
        self.checked.ok(format!(
            "cache-01 turned `Active` after one remote-write push through Traefik ({})",
            answer.status
        ));
    }

    async fn token_and_config(&mut self) {
        let b = self.browser;
        let rid: String = serde_json::from_value(
            b.js("return document.querySelector('.agent [data-rid]').dataset.rid;")
                .await,
        )
        .unwrap();
        b.click(&format!(
            "button[data-action='show-token'][data-rid='{rid}']"
        ))
        .await;
        b.wait_until(
            "return (document.querySelector('.token-value')?.value || '').split('.').length === 3;",
            "token shown",
        )
        .await;
        self.checked.ok(format!("opened the token of {rid}"));
        b.click(&format!(
            "button[data-action='download-config'][data-rid='{rid}']"
        ))
        .await;
        let config = b.downloaded("alloy-", "cfg").await;
        assert!(config.contains("cache-01"), "{config}");
        // Every push URL names the port the stack publishes HTTPS on: 443 would miss it.
        let urls: Vec<&str> = config
            .lines()
            .filter_map(|line| line.trim().strip_prefix("url = "))
            .collect();
        let origin = &self.origin;
        assert_eq!(
            urls,
            [
                format!("\"{origin}/loki/loki/api/v1/push\""),
                format!("\"{origin}/mimir/api/v1/push\""),
            ],
            "{config}"
        );
        self.checked.ok(format!(
            "downloaded cache-01's Alloy config, pushing to {origin}/loki and {origin}/mimir"
        ));
    }

    /// The endpoints the page lists name the published port too.
    async fn endpoints(&mut self) {
        let b = self.browser;
        let origin = &self.origin;
        let listed = b
            .js("return Array.from(document.querySelectorAll('#endpoint-list dd')).map(d => d.textContent);")
            .await;
        assert_eq!(
            listed,
            serde_json::json!([
                format!("{origin}/grafana"),
                format!("{origin}/loki/loki/api/v1/push"),
                format!("{origin}/mimir/api/v1/push"),
                format!("{origin}/pyroscope"),
            ])
        );
        self.checked
            .ok(format!("the endpoints the page lists start with {origin}"));
    }

    /// The live view's refusals through Traefik: no session, and a session from another origin.
    async fn websocket_refusals(&mut self) {
        let upgrade = [
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        let mut anonymous = upgrade.to_vec();
        anonymous.push(("Origin", "https://127.0.0.1"));
        let answer = self
            .https
            .request("GET", "/ws", &anonymous, b"")
            .await
            .unwrap();
        assert_eq!(answer.status, 401, "{answer:?}");

        let cookie = self
            .browser
            .client
            .get_named_cookie("dashboard_token")
            .await
            .unwrap();
        let cookie = format!("dashboard_token={}", cookie.value());
        let mut foreign = upgrade.to_vec();
        foreign.push(("Origin", "https://evil.example.com"));
        foreign.push(("Cookie", &cookie));
        let answer = self
            .https
            .request("GET", "/ws", &foreign, b"")
            .await
            .unwrap();
        assert_eq!(answer.status, 403, "{answer:?}");
        self.checked.ok(
            "/ws through Traefik refused without a session (401) and from another origin (403)",
        );
    }

    /// Logs out once the page's WebSocket, open since the sign-in, has outlived Traefik's read
    /// timeout; it closes then, and was the only one.
    async fn log_out(&mut self) {
        let b = self.browser;
        let signed_in = self.signed_in.expect("signed in");
        tokio::time::sleep_until(
            (signed_in + TRAEFIK_READ_TIMEOUT + Duration::from_secs(5)).into(),
        )
        .await;
        b.wait_until(
            "return document.getElementById('status').classList.contains('hidden');",
            "connected",
        )
        .await;
        assert_eq!(
            websockets(),
            Vec::<Value>::new(),
            "no WebSocket through Traefik closed while the page was open"
        );
        b.click("#logout").await;
        b.wait_until("return location.pathname === '/login';", "logout")
            .await;
        let closed = eventually(DEADLINE, || async {
            let closed = websockets();
            (!closed.is_empty()).then_some(closed)
        })
        .await
        .unwrap_or_else(|| panic!("no WebSocket closed at logout: {:#?}", access_log()));
        assert_eq!(closed.len(), 1, "{closed:?}");
        let seconds = closed[0]["Duration"].as_u64().unwrap_or_default() / 1_000_000_000;
        assert!(seconds > TRAEFIK_READ_TIMEOUT.as_secs(), "{closed:?}");
        self.checked.ok(format!(
            "the live view was one WebSocket through Traefik ({}) for {seconds} s, past Traefik's read timeout, closed at logout",
            closed[0]["RequestProtocol"].as_str().unwrap_or("?")
        ));
        b.client
            .goto(&format!("{}/dashboard", self.origin))
            .await
            .unwrap();
        b.wait_until(
            "return location.pathname === '/login' && !!document.getElementById('token');",
            "signed out",
        )
        .await;
        self.checked
            .ok("logged out: /dashboard sends this browser back to the login page");
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// The requests Traefik has finished, from its JSON access log (a WebSocket's once closed).
fn access_log() -> Vec<Value> {
    docker::docker(&["logs", "traefik"])
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["DownstreamStatus"].is_u64())
        .collect()
}

/// The dashboard's WebSockets that have closed: Traefik logs an upgraded connection when it
/// ends, with status 0 (the 101 went out before the proxy took the connection over).
fn websockets() -> Vec<Value> {
    access_log()
        .into_iter()
        .filter(|e| {
            e["DownstreamStatus"] == 0
                && e["RequestMethod"] == "GET"
                && e["RouterName"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("finch-dashboard"))
        })
        .collect()
}

/// Prints what was checked and, per Traefik route, the requests served and refused (4xx),
/// from Traefik's JSON access log.
fn report(checked: &Checked) {
    let mut routes: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for entry in access_log() {
        let status = entry["DownstreamStatus"].as_u64().unwrap_or_default();
        let router = entry["RouterName"].as_str().unwrap_or("(no route)");
        let counts = routes.entry(router.to_owned()).or_default();
        counts.0 += 1;
        if (400..500).contains(&status) {
            counts.1 += 1;
        }
    }
    println!("the dashboard through the deployed Traefik, checked:");
    for (n, what) in checked.0.iter().enumerate() {
        println!("  {}. {what}", n + 1);
    }
    println!("requests through Traefik (its access log), by route: sent / refused (4xx)");
    let (mut sent, mut refused) = (0, 0);
    for (router, (s, r)) in &routes {
        println!("  {router:<28} {s:>5} / {r}");
        sent += s;
        refused += r;
    }
    println!("  {:<28} {sent:>5} / {refused}", "all");
    assert!(
        routes.keys().any(|r| r.starts_with("finch-dashboard")),
        "the access log shows the dashboard's route: {routes:?}"
    );
}
