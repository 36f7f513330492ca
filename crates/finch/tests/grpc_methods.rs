//! Every `AgentService` method through a real tonic client over h2c against a running finch gRPC
//! server, with the certificate header set as Traefik sets it: success and each error code.
//! `InfoService` and `DashboardService` are in `grpc_info.rs`.

#![allow(clippy::unwrap_used)]

use finch_api::{
    DeregisterAgentRequest, GetAgentConfigRequest, GetAgentRequest, ListAgentsRequest,
    RegisterAgentRequest, UpdateAgentRequest,
};
use finch_testkit::{
    ControlPlane, SERVICE_HOST, SERVICE_ID, agent_config, assert_status, bearer_token, registration,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::Code;

/// Asserts the failure, and that it carries the build metadata: authenticated calls do, errors
/// included (as in 1.x).
#[track_caller]
fn assert_failed<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, message: &str) {
    let status = assert_status(result, code, message);
    for key in ["x-finch-release", "x-finch-commit"] {
        assert!(status.metadata().get(key).is_some(), "{status:?}");
    }
}

#[tokio::test]
async fn agent_lifecycle_succeeds_with_1x_shapes_and_metadata() {
    let plane = ControlPlane::start().await;
    let mut agents = plane.operator().await;

    let response = agents
        .register_agent(registration("web-1.example.com"))
        .await
        .unwrap();
    for name in ["x-finch-release", "x-finch-commit"] {
        assert!(response.metadata().get(name).is_some(), "{name}");
    }
    let rid = response.into_inner().rid;
    assert!(
        rid.starts_with(&format!("rid:finch:{SERVICE_ID}:agent:")),
        "{rid}"
    );

    let agent = agents
        .get_agent(GetAgentRequest { rid: rid.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agent.resource_id, rid);
    assert_eq!(agent.hostname, "web-1.example.com");
    assert_eq!(agent.node, "unix");
    assert_eq!(agent.labels, ["env=prod", "canary"]);
    assert_eq!(
        agent.log_sources,
        ["journal:", "file:///var/log/nginx/*.log"]
    );
    assert!(agent.metrics && agent.profiles);
    assert_eq!(
        agent.metrics_targets,
        ["https://app.example.com:8443/stats?format=prom"]
    );
    let created = OffsetDateTime::parse(&agent.created_at, &Rfc3339).unwrap();
    assert!((OffsetDateTime::now_utc() - created).whole_minutes().abs() < 5);

    let list = agents
        .list_agents(ListAgentsRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.agents.len(), 1);
    assert_eq!(
        (
            list.agents[0].rid.as_str(),
            list.agents[0].hostname.as_str()
        ),
        (rid.as_str(), "web-1.example.com")
    );

    agents
        .update_agent(UpdateAgentRequest {
            rid: rid.clone(),
            labels: vec!["team=ops".into()],
            log_sources: vec!["docker://".into()],
            metrics: false,
            metrics_targets: vec![],
            profiles: false,
        })
        .await
        .unwrap();
    let agent = agents
        .get_agent(GetAgentRequest { rid: rid.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agent.labels, ["team=ops"]);
    assert_eq!(agent.log_sources, ["docker:"]);
    assert!(!agent.metrics && !agent.profiles);

    agents
        .deregister_agent(DeregisterAgentRequest { rid: rid.clone() })
        .await
        .unwrap();
    assert_failed(
        agents.get_agent(GetAgentRequest { rid }).await,
        Code::NotFound,
        "agent not found",
    );
    assert!(
        agents
            .list_agents(ListAgentsRequest {})
            .await
            .unwrap()
            .into_inner()
            .agents
            .is_empty()
    );
}

#[tokio::test]
async fn agent_config_embeds_a_fresh_valid_token_and_escapes_labels() {
    let plane = ControlPlane::start().await;
    let mut agents = plane.operator().await;
    let mut request = registration("web-2.example.com");
    request.labels = vec!["note=x\" } evil { \"".into()];
    let rid = agents
        .register_agent(request)
        .await
        .unwrap()
        .into_inner()
        .rid;

    let config = agent_config(&mut agents, &rid).await;
    assert!(config.contains(&format!("\"rid\" = \"{rid}\"")), "{config}");
    assert!(config.contains(&format!("https://{SERVICE_HOST}/loki/loki/api/v1/push")));
    assert!(
        config.contains(r#""note" = "x\" } evil { \"","#),
        "{config}"
    );
    assert!(config.contains("scheme = \"https\""));
    // No certificate files in certs.d: Traefik's self-signed default, so skip verification.
    assert!(config.contains("insecure_skip_verify = true"));

    let token = bearer_token(&config);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = plane.tokens.verify_agent(&token, now).unwrap();
    assert_eq!(claims.rid, rid);

    // A real certificate in certs.d: agents verify.
    std::fs::write(plane.certs_dir().join("acme.json"), "{}").unwrap();
    let config = agent_config(&mut agents, &rid).await;
    assert!(!config.contains("insecure_skip_verify"));
}

#[tokio::test]
async fn registration_errors_are_invalid_argument_or_already_exists() {
    let plane = ControlPlane::start().await;
    let mut agents = plane.operator().await;

    let mut request = registration("");
    assert_failed(
        agents.register_agent(request.clone()).await,
        Code::InvalidArgument,
        "hostname is required",
    );
    request.hostname = "db-1".into();
    request.log_sources.clear();
    assert_failed(
        agents.register_agent(request).await,
        Code::InvalidArgument,
        "at least one log source is required",
    );

    // Validation failures name the field and the bad value (1.x: Internal).
    for (edit, needle) in [
        (
            (|r: &mut RegisterAgentRequest| r.node = "solaris".into())
                as fn(&mut RegisterAgentRequest),
            "\"solaris\"",
        ),
        (|r| r.labels = vec!["host=evil".into()], "\"host=evil\""),
        (|r| r.labels = vec!["1bad=x".into()], "\"1bad=x\""),
        (|r| r.log_sources = vec!["smtp://x".into()], "\"smtp://x\""),
        (
            |r| r.metrics_targets = vec!["ftp://x".into()],
            "\"ftp://x\"",
        ),
        (
            |r| {
                r.node = "windows".into();
                r.log_sources = vec!["journal://".into()];
            },
            "journal",
        ),
        (
            |r| r.log_sources = vec!["event://System".into()],
            "event://System",
        ),
    ] {
        let mut request = registration("db-2");
        edit(&mut request);
        let status = agents.register_agent(request).await.expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().contains(needle),
            "{needle}: {}",
            status.message()
        );
    }

    agents.register_agent(registration("dup")).await.unwrap();
    assert_failed(
        agents.register_agent(registration("dup")).await,
        Code::AlreadyExists,
        "agent already exists",
    );
}

#[tokio::test]
async fn racing_duplicate_registrations_give_one_agent_and_already_exists() {
    let plane = ControlPlane::start().await;
    let agents = plane.operator().await;
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut client = agents.clone();
        calls.push(tokio::spawn(async move {
            client.register_agent(registration("race")).await
        }));
    }
    let mut ok = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            Err(status) => assert_eq!(
                (status.code(), status.message()),
                (Code::AlreadyExists, "agent already exists")
            ),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn resource_id_errors_for_every_rid_method() {
    let plane = ControlPlane::start().await;
    let mut agents = plane.operator().await;
    let unknown = format!("rid:finch:{SERVICE_ID}:agent:00000000-0000-4000-8000-000000000000");
    for (rid, code, message) in [
        (
            String::new(),
            Code::InvalidArgument,
            "resource ID is required",
        ),
        (unknown, Code::NotFound, "agent not found"),
    ] {
        assert_failed(
            agents.get_agent(GetAgentRequest { rid: rid.clone() }).await,
            code,
            message,
        );
        assert_failed(
            agents
                .get_agent_config(GetAgentConfigRequest { rid: rid.clone() })
                .await,
            code,
            message,
        );
        assert_failed(
            agents
                .deregister_agent(DeregisterAgentRequest { rid: rid.clone() })
                .await,
            code,
            message,
        );
        let update = UpdateAgentRequest {
            rid,
            log_sources: vec!["journal://".into()],
            ..Default::default()
        };
        assert_failed(agents.update_agent(update).await, code, message);
    }
}

#[tokio::test]
async fn update_validates_against_the_registered_node() {
    let plane = ControlPlane::start().await;
    let mut agents = plane.operator().await;
    let rid = agents
        .register_agent(registration("web-3"))
        .await
        .unwrap()
        .into_inner()
        .rid;
    for (sources, needle) in [
        (vec!["event://System".to_owned()], "event://System"),
        (vec![], "at least one log source is required"),
    ] {
        let status = agents
            .update_agent(UpdateAgentRequest {
                rid: rid.clone(),
                log_sources: sources,
                ..Default::default()
            })
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains(needle), "{}", status.message());
    }
}

#[tokio::test]
async fn database_failures_are_internal_without_detail() {
    let plane = ControlPlane::start().await;
    let mut agents = plane.operator().await;
    plane.store.close().await;
    assert_failed(
        agents.list_agents(ListAgentsRequest {}).await,
        Code::Internal,
        "internal error",
    );
    assert_failed(
        agents.register_agent(registration("after-close")).await,
        Code::Internal,
        "internal error",
    );
}
