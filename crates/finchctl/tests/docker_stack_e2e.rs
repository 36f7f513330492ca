//! The end-to-end suite: one stack deployed by `finchctl service deploy` through the
//! [`stack_bed`] (the kit's OpenSSH server, the test Docker Engine, the stack's images built
//! here), and the system used as its users use it, through the deployed Traefik:
//!
//! - Debian's Prometheus in agent mode remote-writes with an agent's token, to the URL and in
//!   the header form of the agent's rendered Alloy config; the samples are read back from
//!   Mimir's query API; after `agent deregister` its next write is refused and nothing newer
//!   lands;
//! - a log line (Loki's push API) and a profile (Pyroscope's ingest API) go through, an agent
//!   registered without metrics is refused on `/mimir` until `agent edit` gives it metrics, and
//!   an agent token cannot query any backend;
//! - finchctl's agent and service commands over mTLS with the pinned certificate, and the
//!   control plane's refusals: no client certificate with a forged
//!   `X-Forwarded-Tls-Client-Cert`, a certificate of another CA, and a valid certificate header
//!   sent straight to Finch's port without the proxy secret;
//! - `service rotate-secret --secret.grace` and a fresh config for the Prometheus agent: the
//!   writes go on without one refused request.
//!
//! Each step prints how many requests it sent and how many the stack refused ([`Tally`]); the
//! lines show with nextest's `--no-capture` and in a failure's output.
//! What `docker_stack_deploy` and `docker_stack_manage` show (a deploy's idempotence,
//! teardown, the rotations' grace timing, the doctor) is not repeated.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod ssh;
mod stack_bed;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use docker::https::StackHttps;
use finch_api::GetServiceInfoRequest;
use finch_api::info_service_client::InfoServiceClient;
use finch_testkit::remote_write::{self, write_request};
use finch_testkit::{Headers, assert_status, eventually, header};
use finchctl::mtls;
use stack_bed::prometheus::{PrometheusAgent, auth_decisions, container_ip};
use stack_bed::{Agent, Bed, Run, profile};
use time::OffsetDateTime;
use tonic::Code;

/// Long enough for the fresh config to reach the Prometheus agent on a loaded machine.
const GRACE: &str = "120s";
/// How long the stack may take to show a push's effect (a scrape, a batch, a query).
const LANDING: Duration = Duration::from_secs(60);
/// All a refused gRPC call says.
const PERMISSION_DENIED: &str = "permission denied";
/// The Prometheus agent's scrape job.
const JOB: &str = "finch-e2e";

/// What one step of the suite sent and how many of those the stack refused (401 or 403, a
/// refused gRPC call or finchctl command). Printed when the step ends, also when it fails.
struct Tally {
    step: &'static str,
    sent: u64,
    refused: u64,
    note: String,
}

impl Tally {
    fn new(step: &'static str) -> Tally {
        Tally {
            step,
            sent: 0,
            refused: 0,
            note: String::new(),
        }
    }

    /// Counts an HTTP answer and returns its status.
    fn http(&mut self, status: u16) -> u16 {
        self.add(1, u64::from(matches!(status, 401 | 403)));
        status
    }

    /// Counts a gRPC call.
    fn grpc<T>(&mut self, result: &Result<T, tonic::Status>) {
        self.add(1, u64::from(result.is_err()));
    }

    /// Counts a finchctl command (one request or more; refused when it fails).
    fn command(&mut self, run: &Run) {
        self.add(1, u64::from(run.code != Some(0)));
    }

    fn add(&mut self, sent: u64, refused: u64) {
        self.sent += sent;
        self.refused += refused;
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        let failed = if std::thread::panicking() {
            " (failed in this step)"
        } else {
            ""
        };
        println!(
            "e2e step {:<44} {:>5} sent {:>5} refused{}{failed}",
            self.step, self.sent, self.refused, self.note
        );
    }
}

/// The stack as an agent and an attacker reach it: HTTPS to the published port, trusting only
/// the stack's certificate.
struct Entry {
    https: StackHttps,
}

impl Entry {
    fn new(bed: &Bed) -> Entry {
        Entry {
            https: StackHttps {
                port: bed.https,
                cert_pem: std::fs::read_to_string(bed.cert_path()).unwrap(),
                host: "127.0.0.1".into(),
            },
        }
    }

    /// `method path` with `Authorization: <bearer>`, counted in `tally`; the status.
    async fn send(
        &self,
        tally: &mut Tally,
        (method, path): (&str, &str),
        bearer: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> u16 {
        let mut all = vec![("Authorization", bearer)];
        all.extend_from_slice(headers);
        let answer = self.https.request(method, path, &all, body).await.unwrap();
        tally.http(answer.status)
    }

    /// One remote-write push of `metric` for `host` at this moment.
    async fn push_metric(&self, tally: &mut Tally, path: &str, bearer: &str, host: &str) -> u16 {
        let body = write_request("finch_e2e_probe", &[("host", host)], 1.0, now_ms());
        self.send(tally, ("POST", path), bearer, &remote_write::HEADERS, &body)
            .await
    }

    /// One log line on Loki's push API (JSON).
    async fn push_log(&self, tally: &mut Tally, path: &str, bearer: &str) -> u16 {
        let body = format!(
            r#"{{"streams":[{{"stream":{{"job":"{JOB}"}},"values":[["{}","an end-to-end log line"]]}}]}}"#,
            now_ms() * 1_000_000
        );
        self.send(
            tally,
            ("POST", path),
            bearer,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await
    }
}

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The path of the endpoint `url = "https://HOST/PATH"` in the rendered Alloy component
/// `component` (`prometheus.remote_write`, `loki.write`, `pyroscope.write`).
fn rendered_path(alloy: &str, component: &str) -> String {
    let block = alloy.split(component).nth(1).unwrap();
    let url = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("url = \""))
        .unwrap()
        .trim_end_matches('"');
    let rest = url.strip_prefix("https://").unwrap();
    rest[rest.find('/').unwrap()..].to_owned()
}

/// The lines of `container`'s log holding `needle`: what reached a stand-in.
fn log_lines(container: &str, needle: &str) -> usize {
    let out = docker::command("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// `finchctl agent <command> --agent.rid RID EXTRA… SERVICE`, counted in `tally`.
async fn agent_command(
    bed: &Bed,
    tally: &mut Tally,
    command: &str,
    agent: &Agent,
    extra: &[&str],
) -> Run {
    let service = bed.service();
    let mut args = vec!["agent", command, "--agent.rid", &agent.rid];
    args.extend_from_slice(extra);
    args.push(&service);
    let run = bed.finchctl(&args).await;
    tally.command(&run);
    run
}

/// Where the Prometheus agent's counters and Finch's decisions stood at one moment.
struct Mark {
    requests: u64,
    decisions: (u64, u64),
    samples_refused: u64,
    samples_retried: u64,
}

impl Mark {
    async fn now(prometheus: &PrometheusAgent) -> Mark {
        Mark {
            requests: prometheus.requests().await,
            decisions: auth_decisions(),
            samples_refused: prometheus.samples_refused().await,
            samples_retried: prometheus.samples_retried().await,
        }
    }

    /// Counts into `tally` what happened since `self`: the requests the agent sent, the ones
    /// Finch refused (its counters start again when it restarts), the samples dropped or
    /// retried. Returns the mark of now.
    async fn count(&self, tally: &mut Tally, prometheus: &PrometheusAgent) -> Mark {
        let now = Mark::now(prometheus).await;
        let (allowed, refused) = now.decisions;
        let restarted = allowed + refused < self.decisions.0 + self.decisions.1;
        let refused = if restarted {
            refused
        } else {
            refused - self.decisions.1
        };
        tally.add(now.requests - self.requests, refused);
        tally.note = format!(
            ", samples refused {} retried {}{}",
            now.samples_refused - self.samples_refused,
            now.samples_retried - self.samples_retried,
            if restarted { ", Finch restarted" } else { "" }
        );
        now
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_operators_and_attackers_through_a_deployed_stack() {
    let Some(bed) = Bed::new() else {
        return;
    };
    let started = Instant::now();
    bed.deploy(&[]).await;
    println!("e2e deploy took {:?}", started.elapsed());
    let service = bed.service();
    let entry = Entry::new(&bed);

    // finchctl through the deployed Traefik with mTLS and the pinned certificate.
    let mut tally = Tally::new("finchctl agent and service commands");
    let web1 = bed
        .register(
            "web1",
            &[
                "--agent.metrics",
                "--agent.profiles",
                "--agent.logs.journal",
            ],
        )
        .await;
    let quiet = bed.register("quiet", &["--agent.logs.journal"]).await;
    tally.add(2, 0);
    let mut agents = bed.agents().await;
    tally.add(1, 0);
    agents.sort();
    assert_eq!(agents, ["quiet", "web1"]);
    let describe = agent_command(&bed, &mut tally, "describe", &quiet, &["-o", "json"]).await;
    assert_eq!(describe.code, Some(0), "{describe:#?}");
    let described: serde_json::Value = serde_json::from_str(&describe.stdout).unwrap();
    assert_eq!(described["rid"], quiet.rid.as_str(), "{described:#}");
    let info = bed.finchctl(&["service", "info", &service]).await;
    tally.command(&info);
    assert_eq!(info.code, Some(0), "{info:#?}");
    assert_eq!(tally.refused, 0);
    drop(tally);

    // The control plane refuses what did not come through Traefik with a certificate of an
    // enrolled operator.
    let mut tally = Tally::new("control plane refusals");
    let ours = profile(bed.home.path()).stack(&service).unwrap().unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(ours.cert_pem.as_bytes()).unwrap();
    let our_cert = header(&[&pem.contents]);
    let forged = Headers {
        cert: Some(our_cert.clone()),
        ..Headers::default()
    };
    let channel = entry.https.grpc_channel().await.unwrap();
    let call = InfoServiceClient::with_interceptor(channel, forged.clone())
        .get_service_info(GetServiceInfoRequest {})
        .await;
    tally.grpc(&call);
    // No client certificate, a forged header.
    assert_status(call, Code::Unauthenticated, PERMISSION_DENIED);
    let own_rid = mtls::local_rid(&mtls::default_machine_id_paths()).unwrap();
    let other_ca = mtls::generate("127.0.0.1", &own_rid, OffsetDateTime::now_utc()).unwrap();
    let other_home = bed.workstation(&other_ca.cert_pem, &other_ca.key_pem);
    let other = bed
        .finchctl_as(other_home.path(), &["service", "info", &service])
        .await;
    tally.command(&other);
    assert_eq!(other.code, Some(1), "our RID from another CA: {other:#?}");
    assert!(
        other.stderr.contains("Unauthenticated: permission denied"),
        "{other:#?}"
    );
    let finch =
        tonic::transport::Channel::from_shared(format!("http://{}:3000", container_ip("finch")))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let direct = InfoServiceClient::with_interceptor(finch.clone(), forged)
        .get_service_info(GetServiceInfoRequest {})
        .await;
    tally.grpc(&direct);
    // A valid certificate header on Finch's port without the proxy secret.
    assert_status(direct, Code::Unauthenticated, PERMISSION_DENIED);
    // With the proxy secret only Traefik knows, the same header passes: the secret decided.
    let finch_json: serde_json::Value = serde_json::from_str(&bed.read("finch.json")).unwrap();
    let attested = Headers {
        cert: Some(our_cert),
        proxy_secret: finch_json["proxy_secret"].as_str().map(str::to_owned),
        forwarded_for: None,
    };
    let direct = InfoServiceClient::with_interceptor(finch, attested)
        .get_service_info(GetServiceInfoRequest {})
        .await;
    tally.grpc(&direct);
    assert!(direct.is_ok(), "with the proxy secret: {direct:?}");
    assert_eq!((tally.sent, tally.refused), (4, 3));
    drop(tally);

    // A real Prometheus in agent mode pushes as the rendered Alloy config does.
    let mut tally = Tally::new("Prometheus agent remote-writes to /mimir");
    let alloy = std::fs::read_to_string(&web1.config).unwrap();
    let mimir_path = rendered_path(&alloy, "prometheus.remote_write");
    assert_eq!(mimir_path, "/mimir/api/v1/push");
    let decisions = auth_decisions();
    let prometheus = PrometheusAgent::start(
        JOB,
        &format!("https://127.0.0.1:{}{mimir_path}", bed.https),
        &web1.token(),
        &bed.cert_path(),
    );
    let start = Mark {
        requests: 0,
        decisions,
        samples_refused: 0,
        samples_retried: 0,
    };
    let landed = eventually(LANDING, || prometheus.newest_in_mimir()).await;
    start.count(&mut tally, &prometheus).await;
    assert!(
        landed.is_some(),
        "no sample of the agent in Mimir: {}",
        prometheus.log()
    );
    assert_eq!(tally.refused, 0, "{}", prometheus.log());
    drop(tally);

    // A log line and a profile land through Traefik.
    let mut tally = Tally::new("a log line and a profile");
    let loki_path = rendered_path(&alloy, "loki.write");
    let pushed = "finch-standin loki POST /loki/api/v1/push 204";
    let logs_before = log_lines("loki", pushed);
    let status = entry.push_log(&mut tally, &loki_path, &web1.bearer()).await;
    assert_eq!(status, 204, "Loki's push");
    let ingest = format!(
        "{}/ingest?name={JOB}.cpu&from={}&until={}&format=folded",
        rendered_path(&alloy, "pyroscope.write"),
        now_ms() / 1000 - 10,
        now_ms() / 1000
    );
    let ingested = "finch-standin pyroscope POST /ingest 200";
    let profiles_before = log_lines("pyroscope", ingested);
    let status = entry
        .send(
            &mut tally,
            ("POST", &ingest),
            &web1.bearer(),
            &[("Content-Type", "text/plain")],
            b"main;work;more 10\n",
        )
        .await;
    assert_eq!(status, 200, "Pyroscope's ingest");
    // The stand-ins keep no data: what reached them is in their logs (which Docker collects
    // a moment later).
    let reached = eventually(LANDING, || async {
        (log_lines("loki", pushed) == logs_before + 1
            && log_lines("pyroscope", ingested) == profiles_before + 1)
            .then_some(())
    })
    .await;
    assert!(
        reached.is_some(),
        "the push or the ingest never reached the stand-in"
    );
    assert_eq!(tally.refused, 0);
    drop(tally);

    // An agent registered without metrics: refused on /mimir, until `agent edit` gives it
    // metrics (effective on its next request).
    let mut tally = Tally::new("an agent without metrics on /mimir");
    let status = entry
        .push_metric(&mut tally, &mimir_path, &quiet.bearer(), "quiet")
        .await;
    assert_eq!(status, 403, "a metrics push of an agent without metrics");
    assert_eq!(
        entry
            .push_log(&mut tally, &loki_path, &quiet.bearer())
            .await,
        204,
        "its logs"
    );
    let edit = agent_command(&bed, &mut tally, "edit", &quiet, &["--agent.metrics"]).await;
    assert_eq!(edit.code, Some(0), "{edit:#?}");
    let status = entry
        .push_metric(&mut tally, &mimir_path, &quiet.bearer(), "quiet")
        .await;
    assert_eq!(status, 204, "after agent edit --agent.metrics");
    let probe = eventually(LANDING, || async {
        let answer = stack_bed::prometheus::mimir_query("finch_e2e_probe{host=\"quiet\"}").await?;
        answer["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert_eq!(probe.as_deref(), Some("1"));
    assert_eq!(tally.refused, 1);
    drop(tally);

    // An agent token reaches pushes alone: every backend's query paths are refused.
    let mut tally = Tally::new("an agent token queries the backends");
    for (method, path) in [
        ("GET", "/mimir/prometheus/api/v1/query?query=up"),
        (
            "GET",
            "/mimir/prometheus/api/v1/query_range?query=up&start=0&end=60&step=15",
        ),
        ("GET", "/mimir/prometheus/api/v1/series?match[]=up"),
        ("POST", "/mimir/prometheus/api/v1/query"),
        (
            "GET",
            "/loki/loki/api/v1/query_range?query=%7Bjob%3D%22finch-e2e%22%7D",
        ),
        ("GET", "/loki/loki/api/v1/labels"),
        (
            "GET",
            "/loki/loki/api/v1/tail?query=%7Bjob%3D%22finch-e2e%22%7D",
        ),
        ("GET", "/pyroscope/pyroscope/render?query=finch-e2e.cpu"),
        ("POST", "/pyroscope/querier.v1.QuerierService/LabelNames"),
        ("GET", "/pyroscope/api/apps"),
    ] {
        let status = entry
            .send(&mut tally, (method, path), &web1.bearer(), &[], b"")
            .await;
        assert_eq!(status, 403, "{method} {path} with an agent token");
    }
    assert_eq!(tally.refused, tally.sent);
    drop(tally);

    // A secret rotation with a grace, then a fresh config for the Prometheus agent: its
    // writes go on without one refused request.
    let mut tally = Tally::new("Prometheus across rotate-secret, fresh config");
    let before = Mark::now(&prometheus).await;
    let rotate = bed
        .on_host("rotate-secret", &["--secret.grace", GRACE])
        .await;
    assert_eq!(rotate.code, Some(0), "rotate-secret: {rotate:#?}");
    let fresh = Agent {
        rid: web1.rid.clone(),
        config: bed.home.path().join("web1-fresh.alloy"),
    };
    let config = bed
        .finchctl(&[
            "agent",
            "config",
            "--agent.rid",
            &fresh.rid,
            "--agent.config",
            &fresh.config.display().to_string(),
            &service,
        ])
        .await;
    assert_eq!(config.code, Some(0), "agent config: {config:#?}");
    assert_ne!(fresh.token(), web1.token(), "a token of the new secret");
    prometheus.use_token(&fresh.token()).await;
    let reloaded = now_ms() as f64 / 1000.0;
    let newer = eventually(LANDING, || async {
        let newest = prometheus.newest_in_mimir().await?;
        (newest > reloaded + 2.0).then_some(())
    })
    .await;
    let after = before.count(&mut tally, &prometheus).await;
    assert!(
        newer.is_some(),
        "no sample after the fresh config: {}",
        prometheus.log()
    );
    assert_eq!(tally.refused, 0, "a write refused across the rotation");
    assert_eq!(
        after.samples_refused,
        before.samples_refused,
        "samples refused across the rotation: {}",
        prometheus.log()
    );
    drop(tally);

    // Deregistered: the next write is refused and nothing newer lands.
    let mut tally = Tally::new("Prometheus after agent deregister");
    let deregister = bed
        .finchctl(&["agent", "deregister", "--agent.rid", &web1.rid, &service])
        .await;
    assert_eq!(deregister.code, Some(0), "{deregister:#?}");
    let deregistered = now_ms() as f64 / 1000.0;
    let before = Mark::now(&prometheus).await;
    let refused = eventually(LANDING, || async {
        (auth_decisions().1 >= before.decisions.1 + 3).then_some(())
    })
    .await;
    let after = before.count(&mut tally, &prometheus).await;
    assert!(
        refused.is_some(),
        "writes go on after deregister: {}",
        prometheus.log()
    );
    assert_eq!(
        after.decisions.0, before.decisions.0,
        "a push allowed after the deregistration"
    );
    assert!(after.samples_refused > before.samples_refused);
    let newest = prometheus.newest_in_mimir().await.unwrap();
    assert!(
        newest <= deregistered,
        "a sample of {newest} landed after the deregistration at {deregistered}"
    );
    drop(tally);
    println!("e2e suite took {:?}", started.elapsed());
}
