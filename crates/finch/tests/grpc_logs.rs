//! The control plane's call log: one record per call with code, request path, remote address
//! and user agent, at Finch 1.x's levels; refusals name the precise reason; internal detail is
//! logged, never sent.

#![allow(clippy::unwrap_used)]

use finch_api::{GetAgentRequest, ListAgentsRequest};
use finch_testkit::{ControlPlane, Headers, LogCapture, OPERATOR, Pki, header};
use time::{Duration, OffsetDateTime};
use tonic::Code;

/// The records of calls forwarded for `client`.
fn records(client: &str) -> Vec<serde_json::Value> {
    LogCapture::install()
        .records()
        .into_iter()
        .filter(|record| record["remote_addr"] == client)
        .collect()
}

fn headers(cert: Option<&str>, client: &str) -> Headers {
    Headers {
        cert: cert.map(str::to_owned),
        proxy_secret: None,
        forwarded_for: Some(client.to_owned()),
    }
}

#[tokio::test]
async fn each_call_is_logged_once_at_its_level() {
    LogCapture::install();
    let plane = ControlPlane::start().await;
    let cert = plane.operator_cert();
    let client = "192.0.2.1";
    let mut agents = plane.agents(headers(Some(&cert), client)).await;

    agents.list_agents(ListAgentsRequest {}).await.unwrap();
    let status = agents
        .get_agent(GetAgentRequest { rid: String::new() })
        .await
        .expect_err("empty rid");
    assert_eq!(status.code(), Code::InvalidArgument);
    plane.store.close().await;
    let status = agents
        .list_agents(ListAgentsRequest {})
        .await
        .expect_err("closed");
    assert_eq!(status.message(), "internal error");

    let records = records(client);
    assert_eq!(records.len(), 3, "{records:#?}");
    let ok = &records[0];
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["message"], "ok");
    assert_eq!(ok["code"], "OK");
    assert_eq!(ok["request_path"], "/finch.AgentService/ListAgents");
    assert!(ok["user_agent"].as_str().unwrap().contains("tonic"), "{ok}");
    assert_eq!(ok["operator"], OPERATOR);

    let invalid = &records[1];
    assert_eq!(invalid["level"], "WARN");
    assert_eq!(invalid["code"], "InvalidArgument");
    assert_eq!(invalid["message"], "resource ID is required");
    assert_eq!(invalid["request_path"], "/finch.AgentService/GetAgent");

    let internal = &records[2];
    assert_eq!(internal["level"], "ERROR");
    assert_eq!(internal["code"], "Internal");
    assert_eq!(internal["message"], "internal error");
    assert!(
        internal["error"].as_str().unwrap().contains("database"),
        "{internal}"
    );
}

#[tokio::test]
async fn refusals_are_warned_with_the_precise_reason() {
    LogCapture::install();
    let plane = ControlPlane::start().await;
    let pki = plane.enroll_operator();
    let now = OffsetDateTime::now_utc();
    let expired = pki.client_with(OPERATOR, |p| {
        p.not_before = now - Duration::days(10);
        p.not_after = now - Duration::days(1);
    });
    let traversal = Pki::new("rid:finchctl:../../x");
    let cases = [
        ("192.0.2.10", None, "no client certificate in metadata"),
        (
            "192.0.2.11",
            Some(header(&[&expired])),
            "certificate has expired",
        ),
        (
            "192.0.2.12",
            Some(header(&[&Pki::new(OPERATOR).client()])),
            "by the client's CA",
        ),
        (
            "192.0.2.13",
            Some(header(&[&traversal.client()])),
            "is not a finchctl id",
        ),
        (
            "192.0.2.14",
            Some(header(&[&Pki::new("rid:finchctl:nobody").client()])),
            "no CA certificate for client rid:finchctl:nobody",
        ),
    ];
    for (client, cert, reason) in cases {
        let mut agents = plane.agents(headers(cert.as_deref(), client)).await;
        let status = agents
            .list_agents(ListAgentsRequest {})
            .await
            .expect_err(reason);
        assert_eq!(status.code(), Code::Unauthenticated);
        let records = records(client);
        assert_eq!(records.len(), 1, "{records:#?}");
        let record = &records[0];
        assert_eq!(record["level"], "WARN");
        assert_eq!(record["message"], "permission denied");
        assert_eq!(record["code"], "Unauthenticated");
        let logged = record["auth.reason"].as_str().unwrap();
        assert!(logged.contains(reason), "{reason}: {logged}");
    }
}
