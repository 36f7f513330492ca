//! The role and scope matrix over a real WebSocket: viewer reads; operator also views tokens;
//! admin also downloads configs; scope entries match a resource id or a hostname exactly.

use finch::tokens::{Role, TokenKey};
use serde_json::{Value, json};

use crate::support::{Options, SECRET, Server, WsClient, hostnames};

async fn ask(client: &mut WsClient, kind: &str, rid: &str) -> Value {
    client
        .send(json!({"type": kind, "data": {"rid": rid}}))
        .await;
    loop {
        let reply = client.json().await;
        let t = reply["type"].as_str().unwrap_or_default().to_owned();
        if t.starts_with("token") || t.starts_with("config") {
            return reply;
        }
    }
}

#[tokio::test]
async fn role_matrix_for_tokens_and_configs() {
    let server = Server::start(Options::default()).await;
    let agent = server.register("web-01").await;
    let rid = agent.rid.as_str();
    for (role, may_token, may_config) in [
        (Role::Viewer, false, false),
        (Role::Operator, true, false),
        (Role::Admin, true, true),
    ] {
        let mut client = server.ws(&server.token(role, &[])).await;
        let (_, _, agents) = client.greeting().await;
        assert_eq!(hostnames(&agents), ["web-01"], "{role}: every role reads");

        let reply = ask(&mut client, "get_token", rid).await;
        if may_token {
            assert_eq!(reply["type"], "token", "{role}");
            assert_eq!(reply["rid"], rid);
            let token = reply["data"]["token"].as_str().unwrap();
            let claims = TokenKey::new(SECRET.as_bytes())
                .verify_agent(token, time::OffsetDateTime::now_utc().unix_timestamp())
                .unwrap();
            assert_eq!(claims.rid, rid);
            assert!(reply["data"]["expires_at"].is_string());
        } else {
            assert_eq!(
                reply,
                json!({"type": "token_error", "rid": rid, "error": "Unauthorized"}),
                "{role}"
            );
        }

        let reply = ask(&mut client, "download_config", rid).await;
        if may_config {
            assert_eq!(reply["type"], "config", "{role}");
            assert_eq!(reply["filename"], format!("alloy-{rid}.cfg"));
            let content = reply["content"].as_str().unwrap();
            assert!(content.contains("finch.example.com"), "{content}");
            assert!(content.contains("web-01"), "{content}");
        } else {
            assert_eq!(
                reply,
                json!({"type": "config_error", "rid": rid, "error": "Unauthorized"}),
                "{role}"
            );
        }
    }
}

#[tokio::test]
async fn scope_filters_the_list_the_counts_and_the_actions() {
    let server = Server::start(Options::default()).await;
    let web = server.register("web-01").await;
    let db = server.register("postgres-01").await;
    server.register("all").await;

    // By hostname.
    let mut client = server.ws(&server.token(Role::Admin, &["web-01"])).await;
    let (stats, _, agents) = client.greeting().await;
    assert_eq!(hostnames(&agents), ["web-01"]);
    assert_eq!(stats["data"]["total_agents"], 1);
    let outside = db.rid.as_str();
    assert_eq!(
        ask(&mut client, "get_token", outside).await,
        json!({"type": "token_error", "rid": outside, "error": "Unauthorized"})
    );
    assert_eq!(
        ask(&mut client, "download_config", outside).await,
        json!({"type": "config_error", "rid": outside, "error": "Unauthorized"})
    );
    assert_eq!(
        ask(&mut client, "get_token", web.rid.as_str()).await["type"],
        "token"
    );
    // A search does not reach outside the scope. The term has letters no resource id can hold
    // (hex, `rid:finch:…:agent:`), so only the out-of-scope host name could match it.
    client
        .send(json!({"type": "get_agents", "data": {"search": "postgres"}}))
        .await;
    assert!(hostnames(&client.next_of("agents").await).is_empty());

    // By resource id.
    let mut client = server
        .ws(&server.token(Role::Viewer, &[db.rid.as_str()]))
        .await;
    let (_, _, agents) = client.greeting().await;
    assert_eq!(hostnames(&agents), ["postgres-01"]);

    // "all" is a hostname like any other; an empty entry matches nothing.
    let mut client = server.ws(&server.token(Role::Viewer, &["all"])).await;
    assert_eq!(hostnames(&client.greeting().await.2), ["all"]);
    let mut client = server.ws(&server.token(Role::Viewer, &[""])).await;
    let (stats, _, agents) = client.greeting().await;
    assert!(hostnames(&agents).is_empty());
    assert_eq!(stats["data"]["total_agents"], 0);

    // An empty scope is everything.
    let mut client = server.ws(&server.token(Role::Viewer, &[])).await;
    assert_eq!(hostnames(&client.greeting().await.2).len(), 3);
}

#[tokio::test]
async fn unknown_agents_are_answered_too() {
    let server = Server::start(Options::default()).await;
    let mut client = server.ws(&server.token(Role::Admin, &[])).await;
    client.greeting().await;
    for rid in [
        "",
        "rid:finch:0123456789abcdef:agent:00000000-0000-0000-0000-000000000000",
    ] {
        assert_eq!(
            ask(&mut client, "get_token", rid).await,
            json!({"type": "token_error", "rid": rid, "error": "Failed to get agent"})
        );
        assert_eq!(
            ask(&mut client, "download_config", rid).await,
            json!({"type": "config_error", "rid": rid, "error": "Failed to get agent"})
        );
    }
}
