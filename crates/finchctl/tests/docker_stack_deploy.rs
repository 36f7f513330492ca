//! `finchctl service deploy`, `update` and `teardown` for real: over the kit's OpenSSH server as
//! the non-root sudo user, into the test Docker Engine (`--docker.host`), with the stack's
//! images built here and delivered as archives (`--stack.image-archive`, `--stack.images`):
//! this build's `finch`, Traefik from the pinned binary, Debian's Prometheus in Mimir's place,
//! and stand-ins for Grafana, Loki, Pyroscope and Alloy.
//!
//! Traefik publishes on loopback ports of the test's own; the library lives in a temporary
//! directory. Every test tears its stack down when it ends, also on failure ([`Bed`]'s drop),
//! so the next stack on the shared daemon starts clean.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod ssh;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use docker::StackImages;
use ssh::{Client, SUDO_USER, Sshd, config_arg};

/// A deploy loads archives and waits for health checks: far longer than one SSH step.
const DEPLOY_DEADLINE: Duration = Duration::from_secs(600);

/// The stack's containers, as the compose file names them.
const CONTAINERS: [&str; 10] = [
    "traefik",
    "finch",
    "grafana",
    "loki",
    "mimir",
    "pyroscope",
    "alloy",
    "hc-loki",
    "hc-mimir",
    "hc-pyroscope",
];

/// One stack's test bed: sshd, the operator's HOME, the library and the published ports.
struct Bed {
    client: Client,
    _sshd: Sshd,
    home: tempfile::TempDir,
    library: PathBuf,
    _library_parent: tempfile::TempDir,
    http: u16,
    https: u16,
    images: &'static StackImages,
}

/// What a finchctl run printed.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Bed {
    /// The bed; `None` (after saying why) when the stack's images cannot be built here.
    fn new() -> Option<Bed> {
        let images = StackImages::get()?;
        let client = Client::new();
        let sshd = Sshd::start(&client);
        client.config(&Client::host("web", &sshd, SUDO_USER));
        let parent = tempfile::tempdir().unwrap();
        let library = parent.path().join("finch");
        Some(Bed {
            client,
            _sshd: sshd,
            home: tempfile::tempdir().unwrap(),
            library,
            _library_parent: parent,
            http: docker::free_port(),
            https: docker::free_port(),
            images,
        })
    }

    /// The stack's name in the profile: the address gRPC commands dial.
    fn service(&self) -> String {
        format!("127.0.0.1:{}", self.https)
    }

    /// The flags every command on the stack takes.
    fn host_flags(&self) -> Vec<String> {
        vec![
            "web".into(),
            "--ssh.config".into(),
            config_arg(&self.client),
            "--service.library".into(),
            self.library.display().to_string(),
            "--docker.host".into(),
            docker::host().into(),
            "--run.format".into(),
            "json".into(),
        ]
    }

    /// `finchctl service <command>` with the host and stack flags, plus `extra`.
    async fn service_command(&self, command: &str, extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec!["service".into(), command.into()];
        args.extend(self.host_flags());
        if command != "teardown" {
            args.extend([
                "--stack.http-port".into(),
                format!("127.0.0.1:{}", self.http),
                "--stack.https-port".into(),
                format!("127.0.0.1:{}", self.https),
            ]);
            args.extend(self.images.flags());
        }
        if command == "deploy" {
            args.extend(["--service.host".into(), "127.0.0.1".into()]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        self.finchctl(&args).await
    }

    async fn deploy(&self, extra: &[&str]) -> Run {
        let run = self.service_command("deploy", extra).await;
        assert_eq!(run.code, Some(0), "deploy: {run:#?}");
        run
    }

    /// Runs finchctl with the operator's HOME.
    async fn finchctl<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Run {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_finchctl"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .current_dir(self.home.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(DEPLOY_DEADLINE, cmd.output())
            .await
            .expect("finchctl finished within the deadline")
            .expect("finchctl runs");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Container name → id of the stack's containers.
    fn containers(&self) -> BTreeMap<String, String> {
        docker::docker(&[
            "ps",
            "-a",
            "--filter",
            "label=com.docker.compose.project=finch",
            "--format",
            "{{.Names}} {{.ID}}",
        ])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, i)| (n.to_owned(), i.to_owned()))
        .collect()
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.library.join(relative)).unwrap()
    }

    /// The lifelong values: finch.json's id and secret, Grafana's password.
    fn kept(&self) -> (String, String, String) {
        let json: serde_json::Value = serde_json::from_str(&self.read("finch.json")).unwrap();
        (
            json["id"].as_str().unwrap().to_owned(),
            json["secret"].as_str().unwrap().to_owned(),
            self.read("grafana/admin-password"),
        )
    }

    /// The hostnames of the stack's agents, through Traefik with the pinned certificate.
    async fn agents(&self) -> Vec<String> {
        let run = self
            .finchctl(&["agent", "list", &self.service(), "-o", "json"])
            .await;
        assert_eq!(run.code, Some(0), "agent list: {run:#?}");
        let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| a["hostname"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Bed {
    /// Removes the stack's containers and network whatever happened.
    fn drop(&mut self) {
        let ids: Vec<String> = self.containers().into_values().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = docker::command("docker").args(&args).output();
        }
        let _ = docker::command("docker")
            .args(["network", "rm", "finch"])
            .output();
    }
}

fn assert_all_healthy() {
    for container in CONTAINERS {
        let health =
            docker::docker(&["inspect", "--format", "{{.State.Health.Status}}", container]);
        assert_eq!(health.trim(), "healthy", "{container}");
    }
}

/// Waits for `condition` under `deadline`, checking every 200 ms.
async fn wait_until(what: &str, deadline: Duration, mut condition: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !condition().await {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

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

/// Whether the Prometheus behind the stack's Mimir has a sample of the sender's job.
async fn mimir_has_the_senders_samples() -> bool {
    let ip = docker::docker(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        "mimir",
    ]);
    let url = format!(
        "http://{}:8080/prometheus/api/v1/query?query=up%7Bjob%3D%22deploy-test-sender%22%7D",
        ip.trim()
    );
    let Ok(response) = reqwest::get(&url).await else {
        return false;
    };
    let Ok(body) = response.json::<serde_json::Value>().await else {
        return false;
    };
    body["data"]["result"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_register_push_repeat_change_keep_data_and_teardown() {
    let Some(bed) = Bed::new() else {
        return;
    };

    // A fresh deploy as the sudo user: every container healthy, the password shown once.
    let first = bed.deploy(&[]).await;
    assert_all_healthy();
    let (id, secret, password) = bed.kept();
    assert!(first.stdout.contains(password.trim()), "{first:#?}");
    assert!(
        !first.stderr.contains(password.trim()),
        "the password only on stdout"
    );
    let owner = |p: &str| {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(bed.library.join(p)).unwrap().uid()
    };
    assert_eq!(owner("grafana"), 472);
    assert_eq!(owner("loki/data"), 10001);

    // Through the deployed Traefik, with the pinned certificate and no --tls.skip-verify.
    let config = bed.home.path().join("web1.alloy");
    let register = bed
        .finchctl(&[
            "agent",
            "register",
            "--agent.hostname",
            "web1",
            "--agent.config",
            &config.display().to_string(),
            &bed.service(),
        ])
        .await;
    assert_eq!(register.code, Some(0), "{register:#?}");
    let alloy = std::fs::read_to_string(&config).unwrap();
    let token = alloy
        .split("bearer_token = \"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_owned();

    // An agent token's push reaches the Prometheus in Mimir's place.
    let sender = Sender::start(
        &format!("https://127.0.0.1:{}/mimir/api/v1/push", bed.https),
        &token,
        &bed.library.join("traefik/etc/certs.d/cert.pem"),
    );
    wait_until(
        "the sender's samples in Mimir",
        Duration::from_secs(60),
        async || mimir_has_the_senders_samples().await,
    )
    .await;
    drop(sender);

    // Again with nothing changed: the same values and agents, no container recreated.
    let before = bed.containers();
    let again = bed.deploy(&[]).await;
    assert_eq!(bed.kept(), (id.clone(), secret.clone(), password.clone()));
    assert!(!again.stdout.contains(password.trim()), "{again:#?}");
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

    // Teardown keeping the data, then a deploy: the same stack and agents.
    let keep = bed
        .service_command("teardown", &["--stack.keep-data"])
        .await;
    assert_eq!(keep.code, Some(0), "{keep:#?}");
    assert!(bed.containers().is_empty());
    assert!(bed.library.join("finch.json").exists());
    bed.deploy(&["--stack.retention", "30d"]).await;
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
}
