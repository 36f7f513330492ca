//! `finchctl service deploy`, `update` and `teardown` for real: over the kit's OpenSSH server as
//! the non-root sudo user, into the test Docker Engine (`--docker.host`), with the stack's
//! images built here and delivered as archives (`--stack.image-archive`, `--stack.images`):
//! this build's `finch`, Traefik from the pinned binary, Debian's Prometheus in Mimir's place,
//! and stand-ins for Grafana, Loki, Pyroscope and Alloy.
//!
//! Traefik publishes on loopback ports of the test's own; the library lives in a temporary
//! directory. Every test tears its stack down when it ends, also on failure (`Bed`'s drop),
//! so the next stack on the shared daemon starts clean.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod ssh;
mod stack_bed;

use std::time::Duration;

use finch_testkit::eventually;
use stack_bed::prometheus::PrometheusAgent;
use stack_bed::{Bed, assert_all_healthy, containers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_register_push_repeat_change_update_keep_data_and_teardown() {
    let Some(bed) = Bed::new() else {
        return;
    };

    // A fresh deploy as the sudo user: every container healthy, the password shown once.
    let first = bed.deploy(&[]).await;
    assert_all_healthy();
    let (id, secret, password) = bed.kept();
    assert!(first.stderr.contains(password.trim()), "{first:#?}");
    assert!(
        !first.stdout.contains(password.trim()),
        "the password in the summary alone"
    );
    let owner = |p: &str| {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(bed.library.join(p)).unwrap().uid()
    };
    assert_eq!(owner("grafana"), 472);
    assert_eq!(owner("loki/data"), 10001);

    // Through the deployed Traefik, with the pinned certificate and no --tls.skip-verify.
    let agent = bed
        .register("web1", &["--agent.logs.journal", "--agent.metrics"])
        .await;

    // An agent token's push reaches the Prometheus in Mimir's place.
    let sender = PrometheusAgent::start(
        "deploy-test-sender",
        &format!("https://127.0.0.1:{}/mimir/api/v1/push", bed.https),
        &agent.token(),
        &bed.cert_path(),
    );
    let pushed = eventually(Duration::from_secs(60), || sender.newest_in_mimir()).await;
    assert!(
        pushed.is_some(),
        "the sender's samples never reached Mimir: {}",
        sender.log()
    );
    drop(sender);

    // Again with nothing changed: the same values and agents, no container recreated.
    let before = bed.containers();
    let again = bed.deploy(&[]).await;
    assert_eq!(bed.kept(), (id.clone(), secret.clone(), password.clone()));
    assert!(!again.stderr.contains(password.trim()), "{again:#?}");
    assert_eq!(bed.containers(), before, "no container recreated");
    assert_eq!(bed.agents().await, ["web1"]);

    // A new retention recreates the three stores alone.
    bed.deploy(&["--stack.retention", "30d"]).await;
    let after = bed.containers();
    let recreated: Vec<String> = containers()
        .into_iter()
        .filter(|c| before.get(c) != after.get(c))
        .collect();
    assert_eq!(recreated, ["loki", "mimir", "pyroscope"]);

    // An update reads the host name, TLS and retention from the library and changes nothing.
    let update = bed.service_command("update", &[]).await;
    assert_eq!(update.code, Some(0), "{update:#?}");
    assert_eq!(bed.containers(), after, "no container recreated by update");

    // Teardown keeping the data, then a deploy: the same stack and agents.
    let keep = bed
        .service_command("teardown", &["--stack.keep-data"])
        .await;
    assert_eq!(keep.code, Some(0), "{keep:#?}");
    assert!(bed.containers().is_empty());
    assert!(bed.library.join("finch.json").exists());
    bed.deploy(&[]).await;
    assert!(
        bed.read("loki/etc/loki.yaml")
            .contains("retention_period: 720h")
    );
    assert_eq!(bed.kept(), (id, secret, password));
    assert_eq!(bed.agents().await, ["web1"]);

    // Teardown: containers, network and library gone, and said so first.
    let teardown = bed.service_command("teardown", &[]).await;
    assert_eq!(teardown.code, Some(0), "{teardown:#?}");
    assert!(teardown.stderr.contains("Removing the stack's containers"));
    assert!(bed.containers().is_empty());
    let networks = docker::docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.lines().any(|n| n == "finch"), "{networks}");
    assert!(!bed.library.exists());

    // Update refuses a host without a stack.
    let update = bed.service_command("update", &[]).await;
    assert_eq!(update.code, Some(1), "{update:#?}");
    assert!(
        update.stderr.contains("there is no stack in"),
        "{update:#?}"
    );
}
