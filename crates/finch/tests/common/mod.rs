//! Shared harness for the integration tests: a library directory with `finch.json`, the service
//! started in-process on loopback ports, the `finch` binary started as a process, and helpers to
//! wait on a condition under a deadline instead of sleeping.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use finch::agents::{Agent, AgentRid, AgentSpec, LogSource, Node};
use finch::config::FinchConfig;
use finch::run::{Listeners, Service, open_store};
use finch::store::Store;
use finch::tokens::TokenKey;
use time::OffsetDateTime;

/// The secret every test library uses. Like finchctl's, it is base64 text used as raw bytes.
pub const SECRET: &str = "dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC0xMjM=";
pub const SERVICE_ID: &str = "0123456789abcdef";

/// A temporary library directory holding `finch.json`.
pub struct Library {
    pub dir: tempfile::TempDir,
}

impl Library {
    /// A library whose database is `sqlite://finch.db`.
    pub fn new() -> Library {
        Library::with_database("sqlite://finch.db")
    }

    pub fn with_database(database: &str) -> Library {
        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::json!({
            "created_at": "2026-11-23T10:00:00Z",
            "database": database,
            "hostname": "finch.example.com",
            "id": SERVICE_ID,
            "secret": SECRET,
            "profiler": "http://pyroscope:4040",
        });
        std::fs::write(dir.path().join("finch.json"), config.to_string()).unwrap();
        Library { dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("finch.json")
    }

    pub fn database_path(&self) -> PathBuf {
        self.dir.path().join("finch.db")
    }

    pub fn config(&self) -> FinchConfig {
        FinchConfig::load(&self.config_path()).unwrap()
    }

    pub fn tokens(&self) -> TokenKey {
        TokenKey::new(SECRET.as_bytes())
    }

    /// `Bearer <fresh agent token for rid>`.
    pub fn bearer(&self, rid: &str) -> String {
        format!(
            "Bearer {}",
            self.tokens()
                .mint_agent(rid, OffsetDateTime::now_utc())
                .token
        )
    }

    /// Stores an agent directly in `finch.db`, before a `finch` process starts.
    pub async fn seed_agent(&self, hostname: &str, metrics: bool, profiles: bool) -> AgentRid {
        let store = Store::open("sqlite://finch.db", self.dir.path())
            .await
            .unwrap();
        let rid = AgentRid::mint(SERVICE_ID);
        store
            .insert_agent(&rid, &agent_spec(hostname, metrics, profiles))
            .await
            .unwrap();
        store.close().await;
        rid
    }

    /// Starts the whole service in this process on free loopback ports.
    pub async fn start(&self) -> Service {
        let config = Arc::new(self.config());
        let store = open_store(&config).await.unwrap();
        let listeners = Listeners::bind_loopback().await.unwrap();
        Service::start(config, store, listeners).await.unwrap()
    }
}

/// A valid agent spec with the given switches.
pub fn agent_spec(hostname: &str, metrics: bool, profiles: bool) -> AgentSpec {
    AgentSpec {
        hostname: hostname.to_owned(),
        node: Node::Unix,
        log_sources: vec![LogSource::Journal],
        metrics,
        metrics_targets: Vec::new(),
        profiles,
        labels: Vec::new(),
    }
}

/// Registers an agent through the running service.
pub async fn register(service: &Service, hostname: &str, metrics: bool, profiles: bool) -> Agent {
    service
        .registry()
        .register(&agent_spec(hostname, metrics, profiles))
        .await
        .unwrap()
}

/// Waits until `check` returns `Some`, polling every 20 ms, for at most `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if started.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An HTTP client for loopback tests.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// A push as Traefik forwards it to `/auth`: GET with the agent's bearer token and the original
/// method and (prefix-stripped) URI.
pub async fn forward_auth(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    method: &str,
    uri: &str,
) -> reqwest::Response {
    let mut request = client
        .get(url)
        .header("X-Forwarded-Method", method)
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "finch.example.com")
        .header("X-Forwarded-Port", "443")
        .header("X-Forwarded-For", "192.0.2.10")
        .header("X-Forwarded-Uri", uri);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

/// The status `/auth` at `url` gives a forwarded push or query.
pub async fn auth_status(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    method: &str,
    uri: &str,
) -> u16 {
    forward_auth(client, url, authorization, method, uri)
        .await
        .status()
        .as_u16()
}

/// The `finch` binary running as a child process with JSON logs captured.
pub struct FinchProcess {
    pub child: Child,
    pub logs: Arc<Mutex<Vec<serde_json::Value>>>,
    pub stderr: Arc<Mutex<String>>,
}

impl FinchProcess {
    /// Runs `finch run` on free loopback ports (port 0) with `config`, plus `extra` flags.
    pub fn spawn(config: &Path, extra: &[&str]) -> FinchProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_finch"));
        command
            .arg("run")
            .args(["--server.grpc-address", "127.0.0.1:0"])
            .args(["--server.http-address", "127.0.0.1:0"])
            .args(["--server.auth-address", "127.0.0.1:0"])
            .args(["--server.healthz-address", "127.0.0.1:0"])
            .args(["--server.log-format", "json"])
            .arg("--stack.config-file")
            .arg(config)
            .args(extra);
        FinchProcess::spawn_command(command)
    }

    pub fn spawn_command(mut command: Command) -> FinchProcess {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "raw": line }));
                sink.lock().unwrap().push(value);
            }
        });
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr_text);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        FinchProcess {
            child,
            logs,
            stderr: stderr_text,
        }
    }

    /// The address a server announced, waiting up to 30 s for the announcement.
    pub fn address(&self, server: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(address) = self.logs.lock().unwrap().iter().find_map(|line| {
                (line["server"] == server && line["address"].is_string())
                    .then(|| line["address"].as_str().unwrap().to_owned())
            }) {
                return address;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "finch never announced the {server} listener; logs: {:?}; stderr: {}",
                self.logs.lock().unwrap(),
                self.stderr.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every captured log line.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.logs.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits (up to 15 s) for the exit; returns the status and how long it took.
    pub fn terminate(&mut self) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        (self.wait(Duration::from_secs(15)), started.elapsed())
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > deadline {
                let _ = self.child.kill();
                panic!("finch did not exit within {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FinchProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
