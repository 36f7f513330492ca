//! Debian's Prometheus in agent mode as a real remote-write client of a deployed stack, and
//! Mimir's query API behind it (the Prometheus in the Mimir stand-in) to read back what landed.
//!
//! The agent scrapes itself every second and pushes to the stack with an agent's token as the
//! rendered Alloy config sends it (`Authorization: Bearer <token>`), trusting only the stack's
//! certificate. Its own metrics say how many requests it sent and how many samples the stack
//! refused; Finch's say how many requests it refused ([`auth_decisions`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::docker;
use crate::docker::stack::stack_http;

/// Debian's `prometheus --enable-feature=agent`, pushing to one URL with one token.
pub struct PrometheusAgent {
    setup: Setup,
    _child: tokio::process::Child,
}

/// What the agent's configuration is made of, and its directory (config, WAL, log).
struct Setup {
    job: String,
    port: u16,
    url: String,
    ca: PathBuf,
    dir: tempfile::TempDir,
}

impl PrometheusAgent {
    /// Starts the agent scraping itself as `job` and pushing to `url` with `token`, verifying
    /// the stack's certificate `ca`.
    pub fn start(job: &str, url: &str, token: &str, ca: &Path) -> PrometheusAgent {
        let setup = Setup {
            job: job.to_owned(),
            port: docker::free_port(),
            url: url.to_owned(),
            ca: ca.to_owned(),
            dir: tempfile::tempdir().unwrap(),
        };
        setup.write_config(token);
        let log = std::fs::File::create(setup.log_path()).unwrap();
        let child = tokio::process::Command::new("prometheus")
            .arg("--enable-feature=agent")
            .arg(format!("--config.file={}", setup.config_path().display()))
            .arg(format!(
                "--storage.agent.path={}",
                setup.dir.path().join("wal").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", setup.port))
            .arg("--web.enable-lifecycle")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        PrometheusAgent {
            setup,
            _child: child,
        }
    }

    /// The scrape job: the `job` label of every sample it pushes.
    pub fn job(&self) -> &str {
        &self.setup.job
    }

    /// Pushes with `token` from now on: a new configuration, reloaded through the lifecycle
    /// API (which answers once the reload is done).
    pub async fn use_token(&self, token: &str) {
        self.setup.write_config(token);
        let url = format!("http://127.0.0.1:{}/-/reload", self.setup.port);
        let answer = finch_testkit::http().post(&url).send().await.unwrap();
        assert!(
            answer.status().is_success(),
            "Prometheus refused the new config: {}",
            answer.text().await.unwrap_or_default()
        );
    }

    /// Remote-write requests it has sent so far (every attempt, retries included).
    pub async fn requests(&self) -> u64 {
        self.metric("prometheus_remote_storage_sent_batch_duration_seconds_count")
            .await
    }

    /// Samples it dropped because the stack refused their request (4xx, not retried).
    /// Prometheus counts no refused requests, and its log repeats an error once a minute.
    pub async fn samples_refused(&self) -> u64 {
        self.metric("prometheus_remote_storage_samples_failed_total")
            .await
    }

    /// Samples it sent again after a 5xx or no answer.
    pub async fn samples_retried(&self) -> u64 {
        self.metric("prometheus_remote_storage_samples_retried_total")
            .await
    }

    /// Its log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.setup.log_path()).unwrap_or_default()
    }

    /// The newest timestamp (seconds) of its samples that Mimir holds, if any.
    pub async fn newest_in_mimir(&self) -> Option<f64> {
        let answer = mimir_query(&format!("timestamp(up{{job=\"{}\"}})", self.job())).await?;
        answer["data"]["result"][0]["value"][1]
            .as_str()?
            .parse()
            .ok()
    }

    /// The sum of a metric's series on its own `/metrics`, 0 while it does not answer.
    async fn metric(&self, name: &str) -> u64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.setup.port);
        let Ok(answer) = finch_testkit::http().get(&url).send().await else {
            return 0;
        };
        let text = answer.text().await.unwrap_or_default();
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter(|line| line[name.len()..].starts_with(['{', ' ']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

impl Setup {
    fn write_config(&self, token: &str) {
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\nremote_write:\n  - url: {url}\n    authorization:\n      type: Bearer\n      credentials: {token}\n    tls_config:\n      ca_file: {ca}\n    queue_config:\n      batch_send_deadline: 1s\n      max_backoff: 1s\n",
            job = self.job,
            port = self.port,
            url = self.url,
            ca = self.ca.display(),
        );
        let temp = self.dir.path().join("prometheus.yml.new");
        std::fs::write(&temp, config).unwrap();
        std::fs::rename(temp, self.config_path()).unwrap();
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.yml")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.log")
    }
}

/// The IP address of the stack's container `name` on its network, which the host reaches.
pub fn container_ip(name: &str) -> String {
    docker::docker(&[
        "inspect",
        "--format",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
    ])
    .trim()
    .to_owned()
}

/// An instant query on Mimir's query API (the Prometheus behind the stand-in), at the
/// container's address: the answer's JSON, `None` while Mimir does not answer.
pub async fn mimir_query(query: &str) -> Option<serde_json::Value> {
    let url = format!(
        "http://{}:8080/prometheus/api/v1/query",
        container_ip("mimir")
    );
    let answer = finch_testkit::http()
        .get(url)
        .query(&[("query", query)])
        .send()
        .await
        .ok()?;
    serde_json::from_str(&answer.text().await.ok()?).ok()
}

/// Finch's ForwardAuth decisions since it started, `(allowed, refused)`: the
/// `finch_auth_requests_total` counters of its healthz listener (loopback in its container,
/// asked from inside it). Every push through Traefik is one decision.
pub fn auth_decisions() -> (u64, u64) {
    let answer = stack_http("finch", "127.0.0.1", 3003, ("GET", "/metrics"), &[], b"");
    assert_eq!(answer.status, 200, "Finch's /metrics: {answer:?}");
    let mut decisions = (0, 0);
    for line in answer.body.lines() {
        let Some(labels) = line.strip_prefix("finch_auth_requests_total{") else {
            continue;
        };
        let count: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        if labels.contains("result=\"allowed\"") {
            decisions.0 += count;
        } else {
            decisions.1 += count;
        }
    }
    decisions
}
