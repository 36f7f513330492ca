//! `/auth` against the running service over real HTTP: the refusal matrix, per-signal
//! permissions, push-only tokens, revocation on the next request, liveness, and the listener
//! itself (many connections at once, pipelining, HTTP/1.1 only, a prompt stop).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use finch::agents::{Agent, AgentRid};
use finch::config::PreviousSecret;
use finch::run::Service;
use finch::tokens::{Role, TokenKey};
use finch_testkit::{
    Library, SECRET, SERVICE_ID, agent_spec, auth_status, eventually, forward_auth, http, register,
};
use time::OffsetDateTime;

/// An HS256 token over arbitrary header and claims, as any JWT library would produce.
fn forge(header: &str, claims: &str, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// A running service with one agent registered (logs only), the agent, and its `Bearer`
/// credential.
async fn service_with_agent(library: &Library, hostname: &str) -> (Service, Agent, String) {
    let service = library.start().await;
    let agent = register(&service, hostname, false, false).await;
    let token = library.bearer(agent.rid.as_str());
    (service, agent, token)
}

const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
const LOKI_PUSH: &str = "/loki/api/v1/push";
const MIMIR_PUSH: &str = "/api/v1/push?x=1";
const PYROSCOPE_PUSH: &str = "/push.v1.PusherService/Push";

#[tokio::test]
async fn refusal_matrix() {
    let library = Library::new();
    let service = library.start().await;
    let agent = service
        .registry()
        .register(&agent_spec("web-01", true, true))
        .await
        .unwrap();
    let rid = agent.rid.as_str();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let future = now + 3600;
    let valid = library
        .tokens()
        .mint_agent(rid, OffsetDateTime::now_utc())
        .token;
    let url = format!("http://{}/auth", service.addresses().auth);
    let client = http();

    let response = forward_auth(
        &client,
        &url,
        Some(&format!("Bearer {valid}")),
        "POST",
        LOKI_PUSH,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-finch-agent"], rid);
    assert!(response.bytes().await.unwrap().is_empty());

    let claims = |body: &str| format!("{{{body}}}");
    let unauthorized: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("no Bearer prefix", Some(valid.clone())),
        ("lower-case bearer", Some(format!("bearer {valid}"))),
        ("basic auth", Some("Basic dXNlcjpwYXNz".into())),
        ("garbage", Some("Bearer garbage".into())),
        (
            "wrong secret",
            Some(format!(
                "Bearer {}",
                forge(
                    HS256,
                    &claims(&format!(
                        r#""exp":{future},"iss":"finch","rid":"{rid}","sub":"agent""#
                    )),
                    b"wrong"
                )
            )),
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
                URL_SAFE_NO_PAD.encode(claims(&format!(
                    r#""exp":{future},"iss":"finch","rid":"{rid}","sub":"agent""#
                )))
            )),
        ),
        (
            "HS512",
            Some(format!(
                "Bearer {}",
                forge(
                    r#"{"alg":"HS512","typ":"JWT"}"#,
                    &claims(&format!(
                        r#""exp":{future},"iss":"finch","rid":"{rid}","sub":"agent""#
                    )),
                    SECRET.as_bytes()
                )
            )),
        ),
        (
            "missing exp",
            Some(format!(
                "Bearer {}",
                forge(
                    HS256,
                    &claims(&format!(r#""iss":"finch","rid":"{rid}","sub":"agent""#)),
                    SECRET.as_bytes()
                )
            )),
        ),
        (
            "past exp",
            Some(format!(
                "Bearer {}",
                forge(
                    HS256,
                    &claims(&format!(
                        r#""exp":{},"iss":"finch","rid":"{rid}","sub":"agent""#,
                        now - 5
                    )),
                    SECRET.as_bytes()
                )
            )),
        ),
        (
            "wrong iss",
            Some(format!(
                "Bearer {}",
                forge(
                    HS256,
                    &claims(&format!(
                        r#""exp":{future},"iss":"other","rid":"{rid}","sub":"agent""#
                    )),
                    SECRET.as_bytes()
                )
            )),
        ),
        (
            "dashboard token",
            Some(format!(
                "Bearer {}",
                library
                    .tokens()
                    .mint_dashboard(
                        Role::Admin,
                        &[],
                        time::Duration::minutes(5),
                        OffsetDateTime::now_utc()
                    )
                    .token
            )),
        ),
        (
            "missing rid",
            Some(format!(
                "Bearer {}",
                forge(
                    HS256,
                    &claims(&format!(r#""exp":{future},"iss":"finch","sub":"agent""#)),
                    SECRET.as_bytes()
                )
            )),
        ),
        (
            "empty rid",
            Some(format!(
                "Bearer {}",
                forge(
                    HS256,
                    &claims(&format!(
                        r#""exp":{future},"iss":"finch","rid":"","sub":"agent""#
                    )),
                    SECRET.as_bytes()
                )
            )),
        ),
        (
            "unknown rid",
            Some(format!(
                "Bearer {}",
                library
                    .tokens()
                    .mint_agent(
                        "rid:finch:0123456789abcdef:agent:00000000-0000-4000-8000-000000000000",
                        OffsetDateTime::now_utc()
                    )
                    .token
            )),
        ),
    ];
    for (case, authorization) in unauthorized {
        let response =
            forward_auth(&client, &url, authorization.as_deref(), "POST", LOKI_PUSH).await;
        assert_eq!(response.status(), 401, "case: {case}");
        assert!(
            response.headers().get("x-finch-agent").is_none(),
            "case: {case}"
        );
        assert!(response.bytes().await.unwrap().is_empty(), "case: {case}");
    }
    service.stop().await;
}

#[tokio::test]
async fn per_signal_routes_and_push_only_tokens() {
    let library = Library::new();
    let service = library.start().await;
    let logs_only = service
        .registry()
        .register(&agent_spec("logs-only", false, false))
        .await
        .unwrap();
    let everything = service
        .registry()
        .register(&agent_spec("everything", true, true))
        .await
        .unwrap();
    let bearer = |rid: &str| {
        format!(
            "Bearer {}",
            library
                .tokens()
                .mint_agent(rid, OffsetDateTime::now_utc())
                .token
        )
    };
    let logs_only = bearer(logs_only.rid.as_str());
    let everything = bearer(everything.rid.as_str());
    let base = format!("http://{}", service.addresses().auth);
    let client = http();

    let cases: &[(&str, &str, &str, &str, u16)] = &[
        // route, token, method, forwarded URI, expected status
        ("/auth/loki", &logs_only, "POST", LOKI_PUSH, 200),
        ("/auth/mimir", &logs_only, "POST", MIMIR_PUSH, 403),
        ("/auth/pyroscope", &logs_only, "POST", PYROSCOPE_PUSH, 403),
        ("/auth", &logs_only, "POST", MIMIR_PUSH, 403),
        ("/auth", &logs_only, "POST", "/ingest?name=app.cpu", 403),
        ("/auth/mimir", &everything, "POST", MIMIR_PUSH, 200),
        ("/auth/mimir", &everything, "POST", "/otlp/v1/metrics", 200),
        ("/auth/pyroscope", &everything, "POST", PYROSCOPE_PUSH, 200),
        ("/auth/loki", &everything, "POST", "/otlp/v1/logs", 200),
        ("/auth", &everything, "POST", MIMIR_PUSH, 200),
        // a push for another backend than the route guards
        ("/auth/mimir", &everything, "POST", LOKI_PUSH, 403),
        // query APIs, as Traefik forwards them after strip-prefix
        (
            "/auth/loki",
            &everything,
            "GET",
            "/loki/api/v1/query_range?query=%7Bjob%3D%22x%22%7D",
            403,
        ),
        (
            "/auth/mimir",
            &everything,
            "GET",
            "/prometheus/api/v1/query?query=up",
            403,
        ),
        (
            "/auth/mimir",
            &everything,
            "POST",
            "/prometheus/api/v1/query",
            403,
        ),
        (
            "/auth/pyroscope",
            &everything,
            "POST",
            "/querier.v1.QuerierService/SelectMergeProfile",
            403,
        ),
        ("/auth", &everything, "GET", "/loki/api/v1/labels", 403),
        (
            "/auth",
            &everything,
            "GET",
            "/prometheus/api/v1/series",
            403,
        ),
        ("/auth", &everything, "GET", LOKI_PUSH, 403),
        (
            "/auth",
            &everything,
            "POST",
            "/api/v1/push/../../prometheus/api/v1/query",
            403,
        ),
    ];
    for (route, token, method, uri, expected) in cases {
        let response =
            forward_auth(&client, &format!("{base}{route}"), Some(token), method, uri).await;
        assert_eq!(response.status(), *expected, "{route} {method} {uri}");
    }

    // Without the forwarded request (not a ForwardAuth call) nothing passes.
    let response = client
        .get(format!("{base}/auth"))
        .header("Authorization", &everything)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Unknown backends and paths are not auth routes.
    let response = forward_auth(
        &client,
        &format!("{base}/auth/tempo"),
        Some(&everything),
        "POST",
        LOKI_PUSH,
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = forward_auth(
        &client,
        &format!("{base}/other"),
        Some(&everything),
        "POST",
        LOKI_PUSH,
    )
    .await;
    assert_eq!(response.status(), 404);
    // Any method reaches /auth.
    let response = client
        .post(format!("{base}/auth/loki"))
        .header("Authorization", &everything)
        .header("X-Forwarded-Method", "POST")
        .header("X-Forwarded-Uri", LOKI_PUSH)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    service.stop().await;
}

#[tokio::test]
async fn deregistering_through_finch_revokes_on_the_next_request() {
    let library = Library::new();
    let (service, agent, token) = service_with_agent(&library, "web-02").await;
    let url = format!("http://{}/auth/loki", service.addresses().auth);
    let client = http();
    assert_eq!(
        auth_status(&client, &url, Some(&token), "POST", LOKI_PUSH).await,
        200
    );
    service.registry().deregister(&agent.rid).await.unwrap();
    assert_eq!(
        auth_status(&client, &url, Some(&token), "POST", LOKI_PUSH).await,
        401
    );
    service.stop().await;
}

#[tokio::test]
async fn updating_signals_through_finch_takes_effect_on_the_next_request() {
    let library = Library::new();
    let (service, agent, token) = service_with_agent(&library, "web-03").await;
    let url = format!("http://{}/auth/mimir", service.addresses().auth);
    let client = http();
    assert_eq!(
        auth_status(&client, &url, Some(&token), "POST", MIMIR_PUSH).await,
        403
    );
    let changes = finch::agents::AgentChanges {
        log_sources: agent.log_sources.clone(),
        metrics: true,
        metrics_targets: Vec::new(),
        profiles: false,
        labels: Vec::new(),
    };
    service
        .registry()
        .update(&agent.rid, &changes)
        .await
        .unwrap();
    assert_eq!(
        auth_status(&client, &url, Some(&token), "POST", MIMIR_PUSH).await,
        200
    );
    service.stop().await;
}

#[tokio::test]
async fn successful_auth_records_last_seen_off_the_request_path() {
    let library = Library::new();
    let service = library.start().await;
    let agent = register(&service, "web-04", false, false).await;
    assert_eq!(agent.last_seen, None);
    let token = library.bearer(agent.rid.as_str());
    let url = format!("http://{}/auth/loki", service.addresses().auth);
    let client = http();
    for _ in 0..5 {
        assert_eq!(
            auth_status(&client, &url, Some(&token), "POST", LOKI_PUSH).await,
            200
        );
    }
    let registry = service.registry().clone();
    let seen = eventually(Duration::from_secs(15), || {
        let registry = registry.clone();
        let rid = agent.rid.clone();
        async move { registry.get(&rid).await.unwrap().last_seen }
    })
    .await;
    let seen = seen.expect("last_seen is written at the writer's next tick (5 s)");
    assert!((OffsetDateTime::now_utc() - seen).whole_seconds().abs() < 60);
    service.stop().await;
}

#[tokio::test]
async fn concurrent_connections_each_get_their_own_agents_answer() {
    let library = Library::new();
    let service = library.start().await;
    let mut agents = Vec::new();
    for name in ["web-10", "web-11", "web-12"] {
        let rid = register(&service, name, false, false).await.rid;
        agents.push((library.bearer(rid.as_str()), rid.as_str().to_owned()));
    }
    let url = format!("http://{}/auth/loki", service.addresses().auth);
    let mut connections = tokio::task::JoinSet::new();
    for n in 0..48 {
        let (token, rid) = agents[n % agents.len()].clone();
        let url = url.clone();
        connections.spawn(async move {
            // One client per task: its own keep-alive connection, handed to some worker.
            let client = http();
            for _ in 0..20 {
                let response = forward_auth(&client, &url, Some(&token), "POST", LOKI_PUSH).await;
                assert_eq!(response.status(), 200);
                assert_eq!(response.headers()["x-finch-agent"], rid.as_str());
            }
        });
    }
    while let Some(done) = connections.join_next().await {
        done.unwrap();
    }
    service.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_http2_is_not_spoken() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let library = Library::new();
    let (service, _, token) = service_with_agent(&library, "web-13").await;
    let auth = service.addresses().auth;
    let request = |path: &str, authorization: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: finch\r\n{authorization}X-Forwarded-Method: POST\r\n\
             X-Forwarded-Uri: {LOKI_PUSH}\r\n\r\n"
        )
    };
    let with_token = format!("Authorization: {token}\r\n");
    let pipelined = [
        request("/auth/loki", &with_token),
        request("/auth/loki", ""),
        request("/auth/", &with_token),
        request("/auth/mimir", &with_token),
    ]
    .concat();
    let mut stream = tokio::net::TcpStream::connect(auth).await.unwrap();
    stream.write_all(pipelined.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    let statuses = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "connection closed early after:\n{seen}");
            seen.push_str(std::str::from_utf8(&buffer[..read]).unwrap());
            let statuses: Vec<&str> = seen
                .lines()
                .filter_map(|line| line.strip_prefix("HTTP/1.1 "))
                .collect();
            if statuses.len() == 4 {
                break statuses.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        statuses,
        [
            "200 OK",
            "401 Unauthorized",
            "404 Not Found",
            "403 Forbidden"
        ]
    );

    // An HTTP/2 client with prior knowledge gets no HTTP/2 answer.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    assert!(
        h2.get(format!("http://{auth}/auth/loki"))
            .header("Authorization", &token)
            .send()
            .await
            .is_err()
    );
    service.stop().await;
}

#[tokio::test]
async fn stopping_closes_idle_keep_alive_connections_at_once() {
    let library = Library::new();
    let (service, _, token) = service_with_agent(&library, "web-14").await;
    let url = format!("http://{}/auth/loki", service.addresses().auth);
    let client = http();
    assert_eq!(
        auth_status(&client, &url, Some(&token), "POST", LOKI_PUSH).await,
        200
    );
    let auth = service.addresses().auth;
    // The client keeps its connection open; a drain must not wait for it to time out.
    let stopped = tokio::time::timeout(Duration::from_secs(3), service.stop()).await;
    assert!(
        stopped.is_ok(),
        "an idle keep-alive connection held up the stop"
    );
    assert!(
        tokio::net::TcpStream::connect(auth).await.is_err(),
        "still accepting after the stop"
    );
}

/// The secret a rotation replaced, in the tests of its grace.
const PREVIOUS_SECRET: &str = "cHJldmlvdXMtc2VjcmV0LXByZXZpb3VzLXNlY3JldA==";

/// A library whose previous secret's grace ends at `until`.
fn rotated_library(until: OffsetDateTime) -> Library {
    Library::with(|config| {
        config.previous_secret = Some(PreviousSecret {
            secret: PREVIOUS_SECRET.to_owned(),
            until,
        })
    })
}

/// `Bearer <agent token for rid signed with secret>`.
fn bearer_signed_with(secret: &str, rid: &str) -> String {
    let token = TokenKey::new(secret.as_bytes()).mint_agent(rid, OffsetDateTime::now_utc());
    format!("Bearer {}", token.token)
}

#[tokio::test]
async fn previous_secret_passes_during_its_grace_for_registered_agents_only() {
    let library = rotated_library(OffsetDateTime::now_utc() + time::Duration::hours(1));
    let (service, agent, current) = service_with_agent(&library, "web-20").await;
    let url = format!("http://{}/auth/loki", service.addresses().auth);
    let client = http();
    let status = |authorization: String| {
        let (client, url) = (&client, &url);
        async move { auth_status(client, url, Some(&authorization), "POST", LOKI_PUSH).await }
    };
    assert_eq!(status(current).await, 200);
    assert_eq!(
        status(bearer_signed_with(PREVIOUS_SECRET, agent.rid.as_str())).await,
        200
    );
    let unregistered = AgentRid::mint(SERVICE_ID);
    assert_eq!(
        status(bearer_signed_with(PREVIOUS_SECRET, unregistered.as_str())).await,
        401
    );
    let stranger = "c3RyYW5nZXItc3RyYW5nZXItc3RyYW5nZXItc3RyYW4=";
    assert_eq!(
        status(bearer_signed_with(stranger, agent.rid.as_str())).await,
        401
    );
    // Deregistering revokes a previous-secret token as it does any other.
    service.registry().deregister(&agent.rid).await.unwrap();
    assert_eq!(
        status(bearer_signed_with(PREVIOUS_SECRET, agent.rid.as_str())).await,
        401
    );
    service.stop().await;
}

#[tokio::test]
async fn previous_secret_is_refused_after_its_grace_or_without_one() {
    let ended = rotated_library(OffsetDateTime::now_utc() - time::Duration::minutes(1));
    let (service, agent, current) = service_with_agent(&ended, "web-21").await;
    let url = format!("http://{}/auth/loki", service.addresses().auth);
    let client = http();
    let previous = bearer_signed_with(PREVIOUS_SECRET, agent.rid.as_str());
    assert_eq!(
        auth_status(&client, &url, Some(&current), "POST", LOKI_PUSH).await,
        200
    );
    assert_eq!(
        auth_status(&client, &url, Some(&previous), "POST", LOKI_PUSH).await,
        401
    );
    service.stop().await;

    let unrotated = Library::new();
    let (service, agent, _) = service_with_agent(&unrotated, "web-22").await;
    let url = format!("http://{}/auth/loki", service.addresses().auth);
    let previous = bearer_signed_with(PREVIOUS_SECRET, agent.rid.as_str());
    assert_eq!(
        auth_status(&client, &url, Some(&previous), "POST", LOKI_PUSH).await,
        401
    );
    service.stop().await;
}
