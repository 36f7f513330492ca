//! ForwardAuth through a real Traefik (`finch_testkit::Traefik`): the headers Traefik really
//! sends after strip-prefix decide pushes, queries and per-signal permissions end to end.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use finch::config::PreviousSecret;
use finch::run::Service;
use finch::tokens::TokenKey;
use finch_testkit::{
    DEADLINE, EntryPoint, Library, Traefik, TraefikBinary, eventually, http, register,
};
use time::OffsetDateTime;

/// The backend behind Traefik: records what reaches it and answers 204.
#[derive(Clone, Default)]
struct Sink {
    seen: Arc<Mutex<Vec<String>>>,
}

async fn record(State(sink): State<Sink>, request: Request) -> StatusCode {
    let uri = request.uri().to_string();
    sink.seen
        .lock()
        .unwrap()
        .push(format!("{} {uri}", request.method()));
    StatusCode::NO_CONTENT
}

async fn start_sink() -> (Sink, SocketAddr) {
    let sink = Sink::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(record).with_state(sink.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (sink, addr)
}

/// Routers as the stack renders them: strip the prefix, then ForwardAuth to Finch. The
/// `legacy` router uses plain `/auth`, as a Finch 1.x stack does.
fn dynamic_config(auth: SocketAddr, sink: SocketAddr) -> String {
    routes_config(
        &[
            ("loki", "/loki", format!("http://{auth}/auth/loki")),
            ("mimir", "/mimir", format!("http://{auth}/auth/mimir")),
            (
                "pyroscope",
                "/pyroscope",
                format!("http://{auth}/auth/pyroscope"),
            ),
            ("legacy", "/legacy-mimir", format!("http://{auth}/auth")),
        ],
        sink,
    )
}

/// One router per `(name, prefix, ForwardAuth address)`, each stripping its prefix before the
/// ForwardAuth check and sending what passes to `sink`.
fn routes_config(routes: &[(&str, &str, String)], sink: SocketAddr) -> String {
    let mut routers = String::new();
    let mut middlewares = String::new();
    for (name, prefix, address) in routes {
        routers.push_str(&format!(
            "    {name}:\n      rule: \"PathPrefix(`{prefix}`)\"\n      entryPoints: [web]\n      middlewares: [strip-{name}, auth-{name}]\n      service: sink\n"
        ));
        middlewares.push_str(&format!(
            "    strip-{name}:\n      stripPrefix:\n        prefixes: [\"{prefix}\"]\n    auth-{name}:\n      forwardAuth:\n        address: \"{address}\"\n        trustForwardHeader: false\n        headerField: X-Finch-Agent\n"
        ));
    }
    format!(
        "http:\n  routers:\n{routers}  middlewares:\n{middlewares}  services:\n    sink:\n      loadBalancer:\n        servers:\n          - url: \"http://{sink}\"\n"
    )
}

#[tokio::test]
async fn pushes_pass_and_queries_are_refused_through_real_traefik() {
    let Some(binary) = TraefikBinary::find_or_skip() else {
        return;
    };
    let library = Library::new();
    let service = library.start().await;
    let logs_only = register(&service, "logs-only", false, false).await;
    let metrics = register(&service, "metrics", true, false).await;
    let logs_only = library.bearer(logs_only.rid.as_str());
    let metrics_rid = metrics.rid.clone();
    let metrics = library.bearer(metrics.rid.as_str());
    let (sink, sink_addr) = start_sink().await;
    let client = http();
    // Traefik is ready once it routes a push to Finch (which refuses it without a token).
    let dynamic = dynamic_config(service.addresses().auth, sink_addr);
    let traefik = Traefik::start(&binary, EntryPoint::Web, &dynamic, |address| {
        let request = client.post(format!("http://{address}/loki/loki/api/v1/push"));
        async move {
            let status = request.send().await.map_err(|e| e.to_string())?.status();
            (status == 401)
                .then_some(())
                .ok_or(format!("answered {status}"))
        }
    })
    .await;
    let base = traefik.url();

    let send = |method: reqwest::Method, path: &str, token: Option<&str>| {
        let mut request = client.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    use reqwest::Method;
    assert_eq!(
        send(Method::POST, "/loki/loki/api/v1/push", Some(&logs_only)).await,
        204
    );
    assert_eq!(
        send(Method::POST, "/mimir/api/v1/push?x=1", Some(&metrics)).await,
        204
    );
    assert_eq!(
        send(Method::POST, "/mimir/api/v1/push", Some(&logs_only)).await,
        403
    );
    assert_eq!(
        send(
            Method::POST,
            "/pyroscope/push.v1.PusherService/Push",
            Some(&metrics)
        )
        .await,
        403
    );
    assert_eq!(
        send(
            Method::GET,
            "/loki/loki/api/v1/query_range?query=%7Bjob%3D%22x%22%7D",
            Some(&metrics)
        )
        .await,
        403
    );
    assert_eq!(
        send(
            Method::GET,
            "/mimir/prometheus/api/v1/query?query=up",
            Some(&metrics)
        )
        .await,
        403
    );
    assert_eq!(
        send(Method::POST, "/loki/loki/api/v1/push", None).await,
        401
    );
    // A 1.x stack's plain /auth: pushes pass, queries do not.
    assert_eq!(
        send(Method::POST, "/legacy-mimir/api/v1/push", Some(&metrics)).await,
        204
    );
    assert_eq!(
        send(
            Method::GET,
            "/legacy-mimir/prometheus/api/v1/query",
            Some(&metrics)
        )
        .await,
        403
    );

    // A client cannot pass a query off as a push: Traefik replaces X-Forwarded-Uri.
    let spoofed = client
        .get(format!("{base}/mimir/prometheus/api/v1/query?query=up"))
        .header("Authorization", &metrics)
        .header("X-Forwarded-Method", "POST")
        .header("X-Forwarded-Uri", "/api/v1/push")
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 403);

    let seen = sink.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "POST /loki/api/v1/push",
            "POST /api/v1/push?x=1",
            "POST /api/v1/push",
        ],
        "only the allowed pushes reach the backend, with the prefix stripped"
    );

    // Deregistering is effective on the very next push through Traefik.
    service.registry().deregister(&metrics_rid).await.unwrap();
    assert_eq!(
        send(Method::POST, "/mimir/api/v1/push", Some(&metrics)).await,
        401
    );
    service.stop().await;
}

/// The secret a rotation replaced.
const PREVIOUS_SECRET: &str = "cHJldmlvdXMtc2VjcmV0LXByZXZpb3VzLXNlY3JldA==";

/// A started library whose previous secret's grace ends at `until`, one registered agent, and
/// that agent's credentials signed with the current and with the previous secret.
async fn rotated_service(until: OffsetDateTime) -> (Library, Service, String, String) {
    let library = Library::with(|config| {
        config.previous_secret = Some(PreviousSecret {
            secret: PREVIOUS_SECRET.to_owned(),
            until,
        })
    });
    let service = library.start().await;
    let agent = register(&service, "rotated", false, false).await;
    let current = library.bearer(agent.rid.as_str());
    let previous = TokenKey::new(PREVIOUS_SECRET.as_bytes())
        .mint_agent(agent.rid.as_str(), OffsetDateTime::now_utc())
        .token;
    (library, service, current, format!("Bearer {previous}"))
}

#[tokio::test]
async fn previous_secret_passes_through_traefik_until_its_grace_ends() {
    let Some(binary) = TraefikBinary::find_or_skip() else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    // `long` is inside its grace for the whole test; `short` leaves it while Traefik serves.
    let (_long_library, long, long_current, long_previous) =
        rotated_service(now + time::Duration::hours(1)).await;
    let (_short_library, short, short_current, short_previous) =
        rotated_service(now + time::Duration::seconds(2)).await;
    let (_sink, sink_addr) = start_sink().await;
    let client = http();
    let dynamic = routes_config(
        &[
            (
                "long",
                "/long",
                format!("http://{}/auth/loki", long.addresses().auth),
            ),
            (
                "short",
                "/short",
                format!("http://{}/auth/loki", short.addresses().auth),
            ),
        ],
        sink_addr,
    );
    let traefik = Traefik::start(&binary, EntryPoint::Web, &dynamic, |address| {
        let requests = ["long", "short"]
            .map(|name| client.post(format!("http://{address}/{name}/loki/api/v1/push")));
        async move {
            for request in requests {
                let status = request.send().await.map_err(|e| e.to_string())?.status();
                if status != 401 {
                    return Err(format!("answered {status}"));
                }
            }
            Ok(())
        }
    })
    .await;
    let base = traefik.url();
    let push = |name: &str, token: &str| {
        let request = client
            .post(format!("{base}/{name}/loki/api/v1/push"))
            .header("Authorization", token);
        async move { request.send().await.unwrap().status().as_u16() }
    };

    assert_eq!(push("long", &long_previous).await, 204);
    assert_eq!(push("long", &long_current).await, 204);
    // No restart: the running service refuses the old token once the clock passes the grace.
    let refused = eventually(DEADLINE, || async {
        (push("short", &short_previous).await == 401).then_some(())
    })
    .await;
    assert!(refused.is_some(), "the previous secret outlived its grace");
    assert_eq!(push("short", &short_current).await, 204);
    assert_eq!(push("long", &long_previous).await, 204);
    long.stop().await;
    short.stop().await;
}
