//! The WebSocket protocol: greeting, each message type, live updates, origin, expiry,
//! subscriptions, limits and shutdown.

use finch::tokens::Role;
use futures_util::SinkExt as _;
use serde_json::json;
use time::OffsetDateTime;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Options, Server, hostnames, wait_for_subscriptions};

#[tokio::test]
async fn greeting_sends_stats_endpoints_then_agents_with_liveness() {
    let server = Server::start(Options::default()).await;
    let seen = server.register("web-01").await;
    server.register("db-01").await;
    server
        .registry
        .store()
        .record_last_seen(&[(seen.rid.clone(), server_now(&server))])
        .await
        .unwrap();
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    let (stats, endpoints, agents) = client.greeting().await;
    assert_eq!(
        stats["data"],
        json!({"total_agents": 2, "active_agents": 1, "metrics_enabled": 2, "profiles_enabled": 0})
    );
    assert_eq!(
        endpoints["data"],
        json!({
            "grafana": "https://finch.example.com/grafana",
            "loki": "https://finch.example.com/loki/loki/api/v1/push",
            "mimir": "https://finch.example.com/mimir/api/v1/push",
            "pyroscope": "https://finch.example.com/pyroscope",
        })
    );
    let data = &agents["data"];
    assert_eq!(
        (data["page"].clone(), data["total_pages"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(data["total_agents"], 2);
    assert_eq!(data["page_size"], 5);
    let first = &data["agents"][0];
    assert_eq!(first["hostname"], "web-01");
    assert_eq!(first["rid"], seen.rid.as_str());
    assert_eq!(first["liveness"], "active");
    assert!(first["last_seen"].is_string());
    assert_eq!(first["labels"], json!(["env=test"]));
    assert_eq!(first["log_sources"], json!(["journal://"]));
    assert_eq!(first["node"], "unix");
    assert!(
        first["registered_at"]
            .as_str()
            .is_some_and(|r| r.len() == 19)
    );
    assert_eq!(data["agents"][1]["liveness"], "never_seen");
    assert_eq!(data["agents"][1]["last_seen"], json!(null));
}

#[tokio::test]
async fn stale_agents_are_not_active() {
    let server = Server::start(Options::default()).await;
    let agent = server.register("web-01").await;
    server
        .registry
        .store()
        .record_last_seen(&[(
            agent.rid.clone(),
            server_now(&server) - time::Duration::minutes(5),
        )])
        .await
        .unwrap();
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    let (stats, _, agents) = client.greeting().await;
    assert_eq!(stats["data"]["active_agents"], 0);
    assert_eq!(agents["data"]["agents"][0]["liveness"], "stale");
}

#[tokio::test]
async fn liveness_moves_on_an_open_page_without_agent_changes() {
    let server = Server::start(Options {
        liveness_refresh: std::time::Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    let agent = server.register("web-01").await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    let (stats, _, agents) = client.greeting().await;
    assert_eq!(agents["data"]["agents"][0]["liveness"], "never_seen");
    assert_eq!(stats["data"]["active_agents"], 0);
    // `/auth` records the agent: no change event, yet the page learns it.
    server
        .registry
        .store()
        .record_last_seen(&[(agent.rid.clone(), server_now(&server))])
        .await
        .unwrap();
    loop {
        let stats = client.next_of("stats").await;
        if stats["data"]["active_agents"] == 1 {
            break;
        }
    }
    // Three minutes later it is stale.
    server.clock.advance(time::Duration::minutes(3));
    loop {
        let agents = client.next_of("agents").await;
        if agents["data"]["agents"][0]["liveness"] == "stale" {
            break;
        }
    }
}

#[tokio::test]
async fn get_agents_pages_and_searches() {
    let server = Server::start(Options {
        page_size: 2,
        ..Options::default()
    })
    .await;
    for host in ["web-01", "web-02", "web-03", "db-01"] {
        server.register(host).await;
    }
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    let (_, _, agents) = client.greeting().await;
    assert_eq!(hostnames(&agents), ["web-01", "web-02"]);
    assert_eq!(agents["data"]["total_pages"], 2);

    client
        .send(json!({"type": "get_agents", "data": {"page": 2, "search": ""}}))
        .await;
    let page2 = client.next_of("agents").await;
    assert_eq!(hostnames(&page2), ["web-03", "db-01"]);
    assert_eq!(page2["data"]["page"], 2);

    client
        .send(json!({"type": "get_agents", "data": {"page": 1, "search": "WEB"}}))
        .await;
    let found = client.next_of("agents").await;
    assert_eq!(hostnames(&found), ["web-01", "web-02"]);
    assert_eq!(found["data"]["total_agents"], 3);
    assert_eq!(found["data"]["search"], "WEB");

    // A page past the end shows the last page; a page below 1 keeps the current one.
    client
        .send(json!({"type": "get_agents", "data": {"page": 9}}))
        .await;
    let last = client.next_of("agents").await;
    assert_eq!(
        (last["data"]["page"].clone(), hostnames(&last)),
        (json!(2), vec!["web-03".to_owned()])
    );
    client
        .send(json!({"type": "get_agents", "data": {"page": 0, "search": "nothing"}}))
        .await;
    let none = client.next_of("agents").await;
    assert_eq!(none["data"]["total_agents"], 0);
    assert_eq!(none["data"]["page"], 1);
}

#[tokio::test]
async fn changes_push_agents_then_stats() {
    let server = Server::start(Options::default()).await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    let (_, _, agents) = client.greeting().await;
    assert!(hostnames(&agents).is_empty());
    server.register("web-01").await;
    let agents = client.json().await;
    assert_eq!(agents["type"], "agents");
    assert_eq!(hostnames(&agents), ["web-01"]);
    let stats = client.json().await;
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["data"]["total_agents"], 1);
    let rid = finch::agents::AgentRid::parse(agents["data"]["agents"][0]["rid"].as_str().unwrap())
        .unwrap();
    server.registry.deregister(&rid).await.unwrap();
    let agents = client.next_of("agents").await;
    assert!(hostnames(&agents).is_empty());
}

#[tokio::test]
async fn unknown_types_and_bad_data_are_ignored() {
    let server = Server::start(Options::default()).await;
    server.register("web-01").await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    client.greeting().await;
    client.send(json!({"type": "reboot", "data": {}})).await;
    client
        .send(json!({"type": "get_token", "data": {"rid": 42}}))
        .await;
    client
        .send(json!({"type": "get_agents", "data": {"page": 1}}))
        .await;
    // The next reply answers the last message: the two before it got none.
    let agents = client.json().await;
    assert_eq!(agents["type"], "agents");
}

#[tokio::test]
async fn a_frame_that_is_not_json_closes_the_connection() {
    let server = Server::start(Options::default()).await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    client.greeting().await;
    client.stream.send(Message::text("not json")).await.unwrap();
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1007);
    server.wait_for_subscriptions(0).await;
}

#[tokio::test]
async fn an_oversized_message_ends_the_connection() {
    let server = Server::start(Options::default()).await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    client.greeting().await;
    let huge = json!({"type": "get_agents", "data": {"search": "x".repeat(64 * 1024)}});
    let _ = client.stream.send(Message::text(huge.to_string())).await;
    client.closed().await;
    server.wait_for_subscriptions(0).await;
}

#[tokio::test]
async fn origin_must_name_the_configured_host() {
    let server = Server::start(Options::default()).await;
    let token = server.token(Role::Admin, &[]);
    for origin in [Some("https://evil.example.com"), Some("null"), None] {
        match server.ws_with_origin(&token, origin).await {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 403, "{origin:?}"),
            Err(other) => panic!("{origin:?}: unexpected error {other}"),
            Ok(_) => panic!("{origin:?}: upgrade accepted"),
        }
    }
    // Scheme and port do not matter, as in 1.x.
    let mut accepted = server
        .ws_with_origin(&token, Some("https://FINCH.example.com:8443"))
        .await
        .unwrap();
    accepted.greeting().await;
    // Only the accepted connection ever subscribed.
    server.wait_for_subscriptions(1).await;
}

#[tokio::test]
async fn a_session_without_a_valid_cookie_is_refused() {
    let server = Server::start(Options::default()).await;
    for token in ["", "garbage"] {
        match server
            .ws_with_origin(token, Some("http://finch.example.com"))
            .await
        {
            Err(WsError::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("expected 401, got {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test]
async fn expiry_closes_the_socket_with_1000_token_expired() {
    let server = Server::start(Options::default()).await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    client.greeting().await;
    server.wait_for_subscriptions(1).await;
    server.clock.advance(time::Duration::minutes(31));
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1000);
    assert_eq!(frame.reason.as_str(), "Token expired");
    server.wait_for_subscriptions(0).await;
}

#[tokio::test]
async fn subscriptions_end_with_their_connections() {
    let server = Server::start(Options::default()).await;
    let token = server.token(Role::Viewer, &[]);
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut client = server.ws(&token).await;
        client.greeting().await;
        clients.push(client);
    }
    server.wait_for_subscriptions(5).await;
    clients.truncate(2);
    server.wait_for_subscriptions(2).await;
    for client in &mut clients {
        client.stream.close(None).await.unwrap();
    }
    server.wait_for_subscriptions(0).await;
}

#[tokio::test]
async fn shutdown_closes_open_sockets() {
    let server = Server::start(Options::default()).await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    client.greeting().await;
    let dashboard = server.service.dashboard().clone();
    let (frame, ()) = tokio::join!(client.closed(), server.stop());
    assert_eq!(u16::from(frame.expect("a close frame").code), 1001);
    wait_for_subscriptions(&dashboard, 0).await;
}

#[tokio::test]
async fn a_flood_of_messages_is_cut_off() {
    let server = Server::start(Options::default()).await;
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    client.greeting().await;
    for _ in 0..100 {
        if client
            .stream
            .send(Message::text(r#"{"type":"noop"}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let frame = client.closed().await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008);
    assert_eq!(frame.reason.as_str(), "Too many messages");
}

#[tokio::test]
async fn the_service_serves_the_dashboard_on_its_http_listener() {
    let library = finch_testkit::Library::new();
    let service = library.start().await;
    let url = format!("http://{}/login", service.addresses().http);
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("content-security-policy"));
    service.stop().await;
}

fn server_now(server: &Server) -> OffsetDateTime {
    use finch::dashboard::clock::Clock as _;
    server.clock.now()
}
