//! finchctl against the real `finch` service behind a real Traefik, as in production
//! (`finch_testkit::Stage`): the operator's CA file is where `finch` looks for it
//! (`certs.d/<RID>.pem`), Traefik's self-signed default certificate is pinned, and Traefik adds
//! the proxy secret on the gRPC route.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::sync::Arc;

use finch_testkit::Stage;
use finchctl::client::{self, FinchVerifier, Trust};
use support::{Dir, TEST_RID};
use time::{Duration, OffsetDateTime};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpc_command_works_against_finch_through_traefik() {
    let Some(stage) = Stage::start(TEST_RID).await else {
        return;
    };
    let svc = stage.name();
    let dir = Dir::new().with_stacks(&[stage.stack(&stage.credentials, false).await]);

    let out = dir.run(&["service", "pin", &svc]).await;
    assert!(out.ok().starts_with("sha256/"), "{out:#?}");

    // service info, three formats.
    let out = dir.run(&["service", "info", &svc, "-o", "json"]).await;
    let info = out.json();
    assert_eq!(info["hostname"], "finch.example.com");
    assert_eq!(info["id"], "0123456789abcdef");
    let out = dir.run(&["service", "info", &svc]).await;
    assert!(
        out.ok().contains("Hostname    finch.example.com\n"),
        "{out:#?}"
    );
    let out = dir.run(&["service", "info", &svc, "--output.yaml"]).await;
    assert!(
        out.ok().contains("hostname: finch.example.com\n"),
        "{out:#?}"
    );

    // agent register: the RID on stdout, the config (with its token) private.
    let out = dir
        .run(&[
            "agent",
            "register",
            &svc,
            "--agent.hostname",
            "web-1.example.com",
            "--agent.logs.journal",
            "--agent.logs.files",
            "/var/log/syslog",
            "--agent.labels",
            "env=prod",
            "--agent.metrics.targets",
            "http://localhost:9100/metrics",
        ])
        .await;
    let rid = out.ok().trim().to_owned();
    assert!(
        rid.starts_with("rid:finch:0123456789abcdef:agent:"),
        "{out:#?}"
    );
    let config = dir.path().join("finch-agent.cfg");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("bearer_token")
    );
    #[cfg(unix)]
    assert_eq!(support::mode(&config), 0o600);

    // agent list, three formats.
    let out = dir.run(&["agent", "list", &svc, "--output.json"]).await;
    assert_eq!(
        out.json(),
        serde_json::json!([{"hostname": "web-1.example.com", "rid": rid}])
    );
    let out = dir.run(&["agent", "list", &svc]).await;
    assert!(out.ok().starts_with("#  Hostname"), "{out:#?}");
    assert!(out.stdout.contains(&rid), "{out:#?}");
    let out = dir.run(&["agent", "list", &svc, "-o", "yaml"]).await;
    assert!(out.ok().contains(&format!("rid: {rid}")), "{out:#?}");

    // agent describe, three formats.
    let out = dir.agent("describe", &svc, &rid, &["-o", "json"]).await;
    let before = out.json();
    assert_eq!(before["hostname"], "web-1.example.com");
    assert_eq!(before["node"], "unix");
    assert_eq!(before["labels"], serde_json::json!(["env=prod"]));
    assert_eq!(before["logs"]["journal"]["enable"], true);
    assert_eq!(before["logs"]["docker"]["enable"], false);
    assert_eq!(
        before["logs"]["files"],
        serde_json::json!(["/var/log/syslog"])
    );
    assert_eq!(before["metrics"]["enable"], true);
    assert_eq!(
        before["metrics"]["targets"],
        serde_json::json!(["http://localhost:9100/metrics"])
    );
    assert_eq!(before["profiles"]["enable"], false);
    let out = dir.agent("describe", &svc, &rid, &[]).await;
    assert!(out.ok().contains("Journal"), "{out:#?}");
    let out = dir.agent("describe", &svc, &rid, &["--output.yaml"]).await;
    assert!(out.ok().contains("hostname: web-1.example.com"), "{out:#?}");

    // agent edit of one field leaves the others as they were.
    dir.agent("edit", &svc, &rid, &["--agent.profiles"])
        .await
        .ok();
    let out = dir.agent("describe", &svc, &rid, &["-o", "json"]).await;
    let mut after = out.json();
    assert_eq!(after["profiles"]["enable"], true);
    after["profiles"]["enable"] = false.into();
    assert_eq!(after, before);

    // agent config: a fresh config, private.
    let out = dir
        .agent("config", &svc, &rid, &["--agent.config", "renewed.cfg"])
        .await;
    out.ok();
    assert!(
        std::fs::read_to_string(dir.path().join("renewed.cfg"))
            .unwrap()
            .contains(&rid)
    );

    // service dashboard.
    let out = dir.run(&["service", "dashboard", &svc]).await;
    assert!(out.ok().trim().len() > 20, "{out:#?}");
    let out = dir
        .run(&[
            "service",
            "dashboard",
            &svc,
            "--permission.role",
            "admin",
            "-o",
            "json",
        ])
        .await;
    let login = out.json();
    assert!(
        login["dashboard_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "https://finch.example.com:{}/",
                finchctl::client::ServiceAddress::parse(&svc).unwrap().port
            )),
        "{login}"
    );

    // agent deregister, then the list is empty.
    dir.agent("deregister", &svc, &rid, &[]).await.ok();
    let out = dir.run(&["agent", "list", &svc, "-o", "json"]).await;
    assert_eq!(out.json(), serde_json::json!([]));
    let out = dir.agent("describe", &svc, &rid, &[]).await;
    out.code(1);
    assert!(out.stderr.contains("NotFound"), "{out:#?}");

    stage.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_expired_and_missing_certificates_are_refused() {
    let Some(stage) = Stage::start(TEST_RID).await else {
        return;
    };
    let svc = stage.name();

    // The same RID, but a certificate from another CA.
    let foreign =
        finchctl::mtls::generate("finch.example.com", TEST_RID, OffsetDateTime::now_utc()).unwrap();
    // The right CA's shape, but expired: issued 100 days ago for 90.
    let expired = finchctl::mtls::generate(
        "finch.example.com",
        TEST_RID,
        OffsetDateTime::now_utc() - Duration::days(100),
    )
    .unwrap();
    stage.library.enroll(
        TEST_RID,
        &format!("{}{}", stage.credentials.ca_pem, expired.ca_pem),
    );

    for (case, credentials) in [("foreign CA", &foreign), ("expired", &expired)] {
        let dir = Dir::new().with_stacks(&[stage.stack(credentials, false).await]);
        let out = dir.run(&["agent", "list", &svc, "--tls.skip-verify"]).await;
        out.code(1);
        assert!(out.stderr.contains("Unauthenticated"), "{case}: {out:#?}");
        assert!(
            out.stderr
                .contains("hint: the service refused this workstation's client certificate"),
            "{case}: {out:#?}"
        );
        if case == "expired" {
            assert!(
                out.stderr.contains("warning: the client certificate for"),
                "{out:#?}"
            );
        }
    }

    // The valid credentials still work, so the refusals above were about the certificates.
    let dir = Dir::new().with_stacks(&[stage.stack(&stage.credentials, false).await]);
    dir.run(&["agent", "list", &svc, "--tls.skip-verify"])
        .await
        .ok();

    // No client certificate, but the (public) valid certificate forged into Traefik's header.
    let status = call_without_certificate(&svc, &stage.credentials.cert_pem).await;
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");

    stage.stop().await;
}

/// `ListAgents` over TLS without a client certificate, with `X-Forwarded-Tls-Client-Cert` set
/// by the client itself.
async fn call_without_certificate(service: &str, cert_pem: &str) -> tonic::Status {
    use base64::Engine as _;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let provider = client::provider();
    let verifier = Arc::new(FinchVerifier::new(Trust::SkipVerify, provider.clone()));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let address = service.to_owned();
    let connect = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        let address = address.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(&address).await?;
            let name = ServerName::try_from("127.0.0.1").unwrap();
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{service}"))
        .unwrap()
        .origin(format!("https://{service}").parse().unwrap())
        .connect_with_connector(connect)
        .await
        .unwrap();
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let forged = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut request = tonic::Request::new(finch_api::ListAgentsRequest {});
    request
        .metadata_mut()
        .insert("x-forwarded-tls-client-cert", forged.parse().unwrap());
    finch_api::agent_service_client::AgentServiceClient::new(channel)
        .list_agents(request)
        .await
        .unwrap_err()
}
