//! The authentication matrix of the control plane: only a certificate issued by the
//! operator's own CA file, valid now and marked for clientAuth, passes, on every route.

#![allow(clippy::unwrap_used)]

use finch::grpc::MAX_CLIENT_CERT_HEADER_LEN;
use finch_api::ListAgentsRequest;
use finch_testkit::{ControlPlane, Headers, OPERATOR, Pki, header};
use rcgen::ExtendedKeyUsagePurpose;
use time::{Duration, OffsetDateTime};
use tonic::Code;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_response};
use tonic_reflection::pb::v1alpha::ServerReflectionRequest as AlphaRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaReflectionClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaMessageRequest;

/// Calls ListAgents with `headers`; Ok(()) or the status.
async fn list(plane: &ControlPlane, headers: Headers) -> Result<(), tonic::Status> {
    let mut agents = plane.agents(headers).await;
    let response = agents.list_agents(ListAgentsRequest {}).await?;
    assert!(response.metadata().get("x-finch-release").is_some());
    Ok(())
}

async fn assert_refused(plane: &ControlPlane, cert: Option<&str>, case: &str) {
    let status = list(plane, plane.traefik(cert)).await.expect_err(case);
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, "permission denied"),
        "{case}"
    );
    // Unauthenticated answers carry no x-finch metadata.
    assert!(status.metadata().get("x-finch-release").is_none(), "{case}");
    assert!(status.metadata().get("x-finch-commit").is_none(), "{case}");
}

#[tokio::test]
async fn only_a_certificate_from_the_operators_ca_passes() {
    let plane = ControlPlane::start().await;
    let pki = plane.enroll_operator();
    let valid = header(&[&pki.client()]);
    list(&plane, plane.traefik(Some(&valid))).await.unwrap();

    assert_refused(&plane, None, "no header").await;
    assert_refused(&plane, Some("garbage"), "garbage").await;
    assert_refused(
        &plane,
        Some(&header(&[b"not a certificate"])),
        "base64 garbage",
    )
    .await;

    let other = Pki::new(OPERATOR);
    assert_refused(&plane, Some(&header(&[&other.client()])), "another CA").await;

    let now = OffsetDateTime::now_utc();
    let expired = pki.client_with(OPERATOR, |p| {
        p.not_before = now - Duration::days(10);
        p.not_after = now - Duration::days(1);
    });
    assert_refused(&plane, Some(&header(&[&expired])), "expired").await;
    let future = pki.client_with(OPERATOR, |p| {
        p.not_before = now + Duration::days(1);
        p.not_after = now + Duration::days(10);
    });
    assert_refused(&plane, Some(&header(&[&future])), "not yet valid").await;

    let server_only = pki.client_with(OPERATOR, |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    });
    assert_refused(&plane, Some(&header(&[&server_only])), "serverAuth only").await;
    let no_eku = pki.client_with(OPERATOR, |p| p.extended_key_usages.clear());
    assert_refused(&plane, Some(&header(&[&no_eku])), "no extended key usage").await;
}

#[tokio::test]
async fn common_names_that_are_not_finchctl_ids_never_reach_the_filesystem() {
    let plane = ControlPlane::start().await;
    // A CA file that a traversal would find: `<certs.d>/../../<x>.pem` is in the library dir.
    for cn in [
        "rid:finchctl:../../evil",
        "rid:finchctl:a/../../../evil",
        "evil/x",
        "rid:finchctl:",
    ] {
        let pki = Pki::new(cn);
        let target = plane.certs_dir().join(format!("{cn}.pem"));
        if let Some(parent) = target.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(&target, &pki.ca_pem);
        assert_refused(&plane, Some(&header(&[&pki.client()])), cn).await;
    }
}

#[tokio::test]
async fn a_missing_or_deleted_ca_file_refuses_at_once() {
    let plane = ControlPlane::start().await;
    let pki = Pki::new(OPERATOR);
    let cert = header(&[&pki.client()]);
    assert_refused(&plane, Some(&cert), "never enrolled").await;
    plane.enroll(&pki);
    list(&plane, plane.traefik(Some(&cert))).await.unwrap();
    std::fs::remove_file(plane.certs_dir().join(format!("{OPERATOR}.pem"))).unwrap();
    assert_refused(&plane, Some(&cert), "CA file deleted").await;
}

#[tokio::test]
async fn chains_escaping_and_several_anchors_are_accepted() {
    let plane = ControlPlane::start().await;
    let pki = Pki::new(OPERATOR);
    // The CA file holds another CA first: every CA in it is an anchor (1.x used the first).
    let other = Pki::new(OPERATOR);
    std::fs::write(
        plane.certs_dir().join(format!("{OPERATOR}.pem")),
        format!("{}{}", other.ca_pem, pki.ca_pem),
    )
    .unwrap();

    let (leaf, intermediate) = pki.chain();
    let chain = header(&[&leaf, &intermediate]);
    list(&plane, plane.traefik(Some(&chain))).await.unwrap();
    assert_refused(
        &plane,
        Some(&header(&[&leaf])),
        "leaf without its intermediate",
    )
    .await;

    // Traefik up to 2.9.3 URL-escaped the value; folded lines arrive escaped too.
    let plain = header(&[&pki.client()]);
    let mut escaped = String::new();
    for (i, c) in plain.chars().enumerate() {
        if i > 0 && i % 64 == 0 {
            escaped.push_str("%0A");
        }
        match c {
            '+' => escaped.push_str("%2B"),
            '/' => escaped.push_str("%2F"),
            '=' => escaped.push_str("%3D"),
            c => escaped.push(c),
        }
    }
    list(&plane, plane.traefik(Some(&escaped))).await.unwrap();
    let escaped_chain = chain.replace(',', "%2C");
    list(&plane, plane.traefik(Some(&escaped_chain)))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_oversized_header_is_refused() {
    let plane = ControlPlane::start().await;
    let valid = plane.operator_cert();
    // A valid certificate padded past finch's bound (whitespace is otherwise ignored).
    let padded = format!(
        "{valid}{}",
        " ".repeat(MAX_CLIENT_CERT_HEADER_LEN - valid.len() + 1)
    );
    assert_refused(&plane, Some(&padded), "oversized").await;
    // Far past it, the transport refuses the headers before finch sees them.
    let huge = format!("{valid}{}", " ".repeat(4 * MAX_CLIENT_CERT_HEADER_LEN));
    let status = list(&plane, plane.traefik(Some(&huge)))
        .await
        .expect_err("huge");
    assert_ne!(status.code(), Code::Ok);
}

#[tokio::test]
async fn reflection_needs_a_certificate_too() {
    let plane = ControlPlane::start().await;
    let pki = plane.enroll_operator();
    let request = || ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };

    let mut anonymous =
        ServerReflectionClient::with_interceptor(plane.channel().await, Headers::default());
    let status = anonymous
        .server_reflection_info(tokio_stream::iter([request()]))
        .await
        .expect_err("refused");
    assert_eq!(
        (status.code(), status.message()),
        (Code::Unauthenticated, "permission denied")
    );
    let mut anonymous_alpha =
        AlphaReflectionClient::with_interceptor(plane.channel().await, Headers::default());
    let alpha_request = AlphaRequest {
        host: String::new(),
        message_request: Some(AlphaMessageRequest::ListServices(String::new())),
    };
    let status = anonymous_alpha
        .server_reflection_info(tokio_stream::iter([alpha_request]))
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);

    let cert = header(&[&pki.client()]);
    let mut operator =
        ServerReflectionClient::with_interceptor(plane.channel().await, plane.traefik(Some(&cert)));
    let mut stream = operator
        .server_reflection_info(tokio_stream::iter([request()]))
        .await
        .unwrap()
        .into_inner();
    let reply = stream.message().await.unwrap().unwrap();
    let Some(server_reflection_response::MessageResponse::ListServicesResponse(services)) =
        reply.message_response
    else {
        panic!("unexpected reply {reply:?}");
    };
    let names: Vec<_> = services.service.into_iter().map(|s| s.name).collect();
    for service in [
        "finch.AgentService",
        "finch.InfoService",
        "finch.DashboardService",
    ] {
        assert!(names.iter().any(|n| n == service), "{names:?}");
    }
}

#[tokio::test]
async fn unknown_methods_need_a_certificate_before_unimplemented() {
    let plane = ControlPlane::start().await;
    let client = unknown_method_call(&plane, None).await;
    assert_eq!(client, Code::Unauthenticated);
    let cert = plane.operator_cert();
    assert_eq!(
        unknown_method_call(&plane, Some(&cert)).await,
        Code::Unimplemented
    );
}

/// Calls `/finch.AgentService/Nope` with tonic's generic client.
async fn unknown_method_call(plane: &ControlPlane, cert: Option<&str>) -> Code {
    let channel = plane.channel().await;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(finch_api::ListAgentsRequest {});
    if let Some(cert) = cert {
        request
            .metadata_mut()
            .insert(finch::grpc::CLIENT_CERT_HEADER, cert.parse().unwrap());
    }
    let codec = tonic_prost::ProstCodec::<
        finch_api::ListAgentsRequest,
        finch_api::ListAgentsResponse,
    >::default();
    let path = http::uri::PathAndQuery::from_static("/finch.AgentService/Nope");
    grpc.unary(request, path, codec)
        .await
        .expect_err("fails")
        .code()
}

#[tokio::test]
async fn proxy_attestation_refuses_a_valid_certificate_without_the_secret() {
    let plane = ControlPlane::start_with(Some("pr0xy-s3cret")).await;
    let cert = plane.operator_cert();
    list(&plane, plane.traefik(Some(&cert))).await.unwrap();
    for secret in [None, Some("wrong"), Some("pr0xy-s3cret ")] {
        let headers = Headers {
            cert: Some(cert.clone()),
            proxy_secret: secret.map(str::to_owned),
            forwarded_for: None,
        };
        let status = list(&plane, headers).await.expect_err("no attestation");
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unauthenticated, "permission denied")
        );
    }
}

#[tokio::test]
async fn every_method_refuses_a_call_without_a_certificate() {
    let plane = ControlPlane::start().await;
    // An enrolled operator, whose calls still need the certificate.
    plane.enroll_operator();
    let refused = |result: Result<(), tonic::Status>, method: &str| {
        let status = result.expect_err(method);
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unauthenticated, "permission denied"),
            "{method}"
        );
    };
    let mut agents = plane.agents(plane.traefik(None)).await;
    refused(
        agents
            .register_agent(finch_api::RegisterAgentRequest::default())
            .await
            .map(drop),
        "RegisterAgent",
    );
    refused(
        agents
            .deregister_agent(finch_api::DeregisterAgentRequest::default())
            .await
            .map(drop),
        "DeregisterAgent",
    );
    refused(
        agents
            .get_agent(finch_api::GetAgentRequest::default())
            .await
            .map(drop),
        "GetAgent",
    );
    refused(list(&plane, plane.traefik(None)).await, "ListAgents");
    refused(
        agents
            .get_agent_config(finch_api::GetAgentConfigRequest::default())
            .await
            .map(drop),
        "GetAgentConfig",
    );
    refused(
        agents
            .update_agent(finch_api::UpdateAgentRequest::default())
            .await
            .map(drop),
        "UpdateAgent",
    );
    let mut info = plane.info(plane.traefik(None)).await;
    refused(
        info.get_service_info(finch_api::GetServiceInfoRequest {})
            .await
            .map(drop),
        "GetServiceInfo",
    );
    let mut dashboard = plane.dashboard(plane.traefik(None)).await;
    refused(
        dashboard
            .get_dashboard_token(finch_api::GetDashboardTokenRequest::default())
            .await
            .map(drop),
        "GetDashboardToken",
    );
    // Nothing was registered by the refused calls.
    assert!(plane.registry.list().await.unwrap().is_empty());
}
