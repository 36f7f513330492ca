//! The stand-in as a binary on loopback: each role answers its health path and logs every
//! request, `wget` is a health check's client, and the Mimir role stores a remote-write push
//! in the real Prometheus (Debian's package) and reads it back.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use finch_testkit::{DEADLINE, eventually, remote_write};

const BINARY: &str = env!("CARGO_BIN_EXE_finch-standin");

/// A running stand-in: its address and its stdout, line by line.
struct Standin {
    child: Child,
    address: String,
    lines: mpsc::Receiver<String>,
}

impl Standin {
    fn start(role: &str, env: &[(&str, &str)]) -> Standin {
        let mut child = Command::new(BINARY)
            .args([role, "--config.file=/ignored", "-target=all"])
            .env("FINCH_STANDIN_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (send, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines.recv_timeout(DEADLINE).unwrap();
        let address = first
            .rsplit_once(" listening on ")
            .unwrap_or_else(|| panic!("not a listening line: {first}"))
            .1
            .to_owned();
        Standin {
            child,
            address,
            lines,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The next line it logs.
    fn next_line(&self) -> String {
        self.lines.recv_timeout(DEADLINE).unwrap()
    }
}

impl Drop for Standin {
    /// SIGTERM, as `docker stop` sends it: the Mimir role then stops its Prometheus too.
    fn drop(&mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        if !terminated.is_ok_and(|s| s.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn loki_answers_ready_and_pushes_and_logs_each_request() {
    let loki = Standin::start("loki", &[]);
    let client = reqwest::Client::new();
    assert_eq!(status(client.get(loki.url("/ready"))).await, 200);
    assert_eq!(loki.next_line(), "finch-standin loki GET /ready 200");
    let push = client.post(loki.url("/loki/api/v1/push")).body("x");
    assert_eq!(status(push).await, 204);
    assert_eq!(
        loki.next_line(),
        "finch-standin loki POST /loki/api/v1/push 204"
    );
    assert_eq!(status(client.get(loki.url("/metrics"))).await, 404);
    assert_eq!(loki.next_line(), "finch-standin loki GET /metrics 404");
}

#[tokio::test]
async fn wget_is_the_grafana_health_checks_client() {
    let grafana = Standin::start("grafana", &[]);
    let dir = tempfile::tempdir().unwrap();
    let wget = dir.path().join("wget");
    std::os::unix::fs::symlink(BINARY, &wget).unwrap();
    let run = |url: String| {
        Command::new(&wget)
            .args(["-q", "-O", "/dev/null", &url])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(run(grafana.url("/grafana/api/health")), Some(0));
    assert_eq!(
        grafana.next_line(),
        "finch-standin grafana GET /grafana/api/health 200"
    );
    assert_eq!(run(grafana.url("/api/health")), Some(1));
    drop(grafana);
    let closed = format!("http://{}/grafana/api/health", free_address());
    assert_eq!(run(closed), Some(1));
}

#[test]
fn an_unknown_role_is_a_usage_error() {
    let out = Command::new(BINARY).arg("tempo").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("grafana, loki, mimir"));
}

#[tokio::test]
async fn mimir_stores_a_push_in_prometheus_and_reads_it_back() {
    let prometheus = Path::new("/usr/bin/prometheus");
    if !prometheus.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no {}",
            prometheus.display()
        );
        eprintln!("skipped: no {}: run scripts/setup", prometheus.display());
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let upstream = free_address();
    let mimir = Standin::start(
        "mimir",
        &[
            ("FINCH_STANDIN_DATA", &data.path().to_string_lossy()),
            ("FINCH_STANDIN_PROMETHEUS_LISTEN", &upstream),
        ],
    );
    let client = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(60), || async {
        let answer = client.get(mimir.url("/ready")).send().await.ok()?;
        (answer.status() == 200).then_some(())
    })
    .await;
    assert!(ready.is_some(), "prometheus never turned ready");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = remote_write::write_request("standin_test_pushed", &[("job", "roles")], 42.0, now);
    let mut push = client.post(mimir.url("/api/v1/push")).body(body);
    for (name, value) in remote_write::HEADERS {
        push = push.header(name, value);
    }
    assert_eq!(status(push).await, 204);

    let query = mimir.url("/prometheus/api/v1/query?query=standin_test_pushed");
    let value = eventually(DEADLINE, || async {
        let body = client.get(&query).send().await.ok()?.bytes().await.ok()?;
        let answer: serde_json::Value = serde_json::from_slice(&body).ok()?;
        answer["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert_eq!(value.as_deref(), Some("42"));
}

/// A loopback address nothing listens on (just now).
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}
