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

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use finch_testkit::eventually;
use stack_bed::{Bed, CONTAINERS, assert_all_healthy};

/// Debian's Prometheus in agent mode, scraping itself and pushing to `url` with `token`,
/// verifying the stack's certificate `ca`.
struct Sender {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Sender {
    fn start(url: &str, token: &str, ca: &Path) -> Sender {
        let dir = tempfile::tempdir().unwrap();
        let port = docker::free_port();
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: deploy-test-sender\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\nremote_write:\n  - url: {url}\n    authorization:\n      credentials: {token}\n    tls_config:\n      ca_file: {}\n    queue_config:\n      batch_send_deadline: 1s\n",
            ca.display()
        );
        let file = dir.path().join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let child = tokio::process::Command::new("prometheus")
            .arg("--enable-feature=agent")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.agent.path={}",
                dir.path().join("wal").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Sender {
            _child: child,
            _dir: dir,
        }
    }
}

/// Whether the Prometheus behind the stack's Mimir has a sample of the sender's job: asked
/// on Mimir's query path, at the container's address on the stack's bridge network.
async fn mimir_has_the_senders_samples() -> Option<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let ip = docker::docker(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        "mimir",
    ]);
    let mut stream = tokio::net::TcpStream::connect((ip.trim(), 8080))
        .await
        .ok()?;
    let request = "GET /prometheus/api/v1/query?query=up%7Bjob%3D%22deploy-test-sender%22%7D HTTP/1.0\r\nHost: mimir\r\n\r\n";
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer
        .contains("\"job\":\"deploy-test-sender\"")
        .then_some(())
}

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
    let token = bed.register_agent("web1", &["--agent.metrics"]).await;

    // An agent token's push reaches the Prometheus in Mimir's place.
    let sender = Sender::start(
        &format!("https://127.0.0.1:{}/mimir/api/v1/push", bed.https),
        &token,
        &bed.library.join("traefik/etc/certs.d/cert.pem"),
    );
    let pushed = eventually(Duration::from_secs(60), mimir_has_the_senders_samples).await;
    assert!(pushed.is_some(), "the sender's samples never reached Mimir");
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
    let recreated: Vec<&str> = CONTAINERS
        .iter()
        .copied()
        .filter(|c| before.get(*c) != after.get(*c))
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
