//! The test bed of the tests and benchmarks that deploy a whole stack (`docker_stack_*`):
//! the kit's OpenSSH server as the non-root sudo user, the test Docker Engine
//! (`--docker.host`), the stack's images built here ([`StackImages`]), Traefik on loopback
//! ports of its own and the library in a temporary directory. [`Bed`]'s drop removes the
//! stack's containers and network whatever happened, so the next stack starts clean.
//!
//! Around it, what the tests do on a deployed stack: agents registered through the deployed
//! Traefik ([`Agent`]), other operators' workstations ([`Bed::workstation`]), and Debian's
//! Prometheus in agent mode pushing to it ([`prometheus`]).

#![allow(dead_code)]

pub mod prometheus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use finchctl::profile::{Profile, Stack};
use finchctl::stack::compose::SIDECARS;

pub use crate::docker::stack::containers;
use crate::docker::{self, StackImages};
pub use crate::ssh::Run;
use crate::ssh::{Client, SUDO_USER, Sshd, config_arg};

/// A deploy loads archives and waits for health checks: far longer than one SSH step.
pub const DEPLOY_DEADLINE: Duration = Duration::from_secs(600);

/// One stack's test bed: sshd, the operator's HOME, the library and the published ports.
pub struct Bed {
    pub client: Client,
    _sshd: Sshd,
    pub home: tempfile::TempDir,
    pub library: PathBuf,
    _library_parent: tempfile::TempDir,
    pub http: u16,
    pub https: u16,
    pub images: &'static StackImages,
}

impl Bed {
    /// The bed; `None` (after saying why) when the stack's images cannot be built here.
    pub fn new() -> Option<Bed> {
        let images = StackImages::get()?;
        docker::stack::clear_stack();
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
    pub fn service(&self) -> String {
        format!("127.0.0.1:{}", self.https)
    }

    /// The flags every command on the stack takes.
    pub fn host_flags(&self) -> Vec<String> {
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
    pub async fn service_command(&self, command: &str, extra: &[&str]) -> Run {
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

    pub async fn deploy(&self, extra: &[&str]) -> Run {
        let run = self.service_command("deploy", extra).await;
        assert_eq!(run.code, Some(0), "deploy: {run:#?}");
        run
    }

    /// Runs finchctl with the operator's HOME.
    pub async fn finchctl<S: AsRef<str>>(&self, args: &[S]) -> Run {
        self.finchctl_as(self.home.path(), args).await
    }

    /// Runs finchctl with `home` as HOME (another operator's workstation).
    pub async fn finchctl_as<S: AsRef<str>>(&self, home: &std::path::Path, args: &[S]) -> Run {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        crate::ssh::finchctl_within(home, &args, DEPLOY_DEADLINE).await
    }

    /// Container name → id of the stack's containers.
    pub fn containers(&self) -> BTreeMap<String, String> {
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

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.library.join(relative)).unwrap()
    }

    /// The lifelong values: finch.json's id and secret, Grafana's password.
    pub fn kept(&self) -> (String, String, String) {
        let json: serde_json::Value = serde_json::from_str(&self.read("finch.json")).unwrap();
        (
            json["id"].as_str().unwrap().to_owned(),
            json["secret"].as_str().unwrap().to_owned(),
            self.read("grafana/admin-password"),
        )
    }

    /// `finchctl service <command>` on the bed's host with only the host flags (no stack flags).
    pub async fn on_host(&self, command: &str, extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec!["service".into(), command.into()];
        args.extend(self.host_flags());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        self.finchctl(&args).await
    }

    /// `finchctl agent register --agent.hostname HOSTNAME FLAGS…` through the deployed Traefik
    /// with the pinned certificate, its config written into the operator's HOME.
    pub async fn register(&self, hostname: &str, flags: &[&str]) -> Agent {
        let config = self.home.path().join(format!("{hostname}.alloy"));
        let mut args = vec![
            "agent".to_owned(),
            "register".into(),
            "--agent.hostname".into(),
            hostname.into(),
            "--agent.config".into(),
            config.display().to_string(),
            "--output".into(),
            "json".into(),
        ];
        args.extend(flags.iter().map(|s| (*s).to_owned()));
        args.push(self.service());
        let run = self.finchctl(&args).await;
        assert_eq!(run.code, Some(0), "agent register: {run:#?}");
        let registered: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        Agent {
            rid: registered["rid"].as_str().unwrap().to_owned(),
            config,
        }
    }

    /// A workstation (a HOME) holding `cert_pem` and `key_pem` for the bed's stack, with our
    /// pin of its server certificate.
    pub fn workstation(&self, cert_pem: &str, key_pem: &str) -> tempfile::TempDir {
        let pin = profile(self.home.path())
            .stack(&self.service())
            .unwrap()
            .unwrap()
            .server_pin;
        let home = tempfile::tempdir().unwrap();
        let mut profile = profile(home.path());
        profile.upsert(&Stack {
            name: self.service(),
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            server_pin: pin,
        });
        profile.save().unwrap();
        home
    }

    /// The stack's own certificate (what finchctl pins and agents are told to trust).
    pub fn cert_path(&self) -> PathBuf {
        self.library.join("traefik/etc/certs.d/cert.pem")
    }

    /// The hostnames of the stack's agents, through Traefik with the pinned certificate.
    pub async fn agents(&self) -> Vec<String> {
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

/// An agent registered on the bed's stack.
pub struct Agent {
    pub rid: String,
    /// Its Alloy config as `agent register` (or `agent config`) wrote it.
    pub config: PathBuf,
}

impl Agent {
    /// The bearer token its Alloy config sends (`bearer_token = "…"`).
    pub fn token(&self) -> String {
        finch_testkit::bearer_token(&std::fs::read_to_string(&self.config).unwrap())
    }

    /// `Authorization`'s value, as Alloy sends `bearer_token`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token())
    }
}

/// The finchctl profile (`~/.config/finch.json`) of the workstation whose HOME is `home`.
pub fn profile(home: &Path) -> Profile {
    Profile::load(&home.join(".config/finch.json")).unwrap()
}

impl Drop for Bed {
    /// Removes the stack's containers and network whatever happened.
    fn drop(&mut self) {
        self.remove_containers();
    }
}

impl Bed {
    /// Removes the stack's containers and network, as a host that died would lose them.
    pub fn remove_containers(&self) {
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

/// The HTTP status of an empty push to Mimir's route through the stack's Traefik with
/// `Authorization: <authorization>`; 401 when Traefik's ForwardAuth refuses the token.
pub fn push_status(bed: &Bed, authorization: &str) -> u16 {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .arg("--cacert")
        .arg(bed.library.join("traefik/etc/certs.d/cert.pem"))
        .args(["-H", &format!("Authorization: {authorization}")])
        .args(["-X", "POST", "--data-binary", ""])
        .arg(format!("https://127.0.0.1:{}/mimir/api/v1/push", bed.https))
        .output()
        .expect("curl is installed");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Whether the stack let `authorization` through to Mimir.
pub fn accepted(bed: &Bed, authorization: &str) -> bool {
    let status = push_status(bed, authorization);
    assert_ne!(status, 0, "curl reached the stack");
    status != 401 && status != 403
}

/// The signals of the agents the stack tests register: metrics and the journal.
pub const METRICS_AND_JOURNAL: &[&str] = &["--agent.metrics", "--agent.logs.journal"];

/// Registers an agent that sends metrics and returns `Bearer <its token>`.
pub async fn register_agent(bed: &Bed, hostname: &str) -> String {
    bed.register(hostname, METRICS_AND_JOURNAL).await.bearer()
}

/// Every container with a health check is healthy; Loki, Mimir and Pyroscope have none of
/// their own (no shell in their images): their `hc-*` sidecars carry it.
pub fn assert_all_healthy() {
    for container in containers() {
        let state = docker::docker(&[
            "inspect",
            "--format",
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}} no-check{{end}}",
            &container,
        ]);
        let expected = if SIDECARS.contains(&container.as_str()) {
            "running no-check"
        } else {
            "healthy"
        };
        assert_eq!(state.trim(), expected, "{container}");
    }
}
