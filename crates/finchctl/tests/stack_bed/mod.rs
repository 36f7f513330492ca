//! The test bed of the tests and benchmarks that deploy a whole stack (`docker_stack_*`):
//! the kit's OpenSSH server as the non-root sudo user, the test Docker Engine
//! (`--docker.host`), the stack's images built here ([`StackImages`]), Traefik on loopback
//! ports of its own and the library in a temporary directory. [`Bed`]'s drop removes the
//! stack's containers and network whatever happened, so the next stack starts clean.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::docker::stack::CONTAINERS;
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

    /// `finchctl agent register` of `hostname` with journal logs and `flags`, through the
    /// deployed Traefik with the pinned certificate (no `--tls.skip-verify`); the agent's token,
    /// read from the Alloy configuration it wrote.
    pub async fn register_agent(&self, hostname: &str, flags: &[&str]) -> String {
        let config = self.home.path().join(format!("{hostname}.alloy"));
        let config_arg = config.display().to_string();
        let service = self.service();
        let mut args = vec![
            "agent",
            "register",
            "--agent.hostname",
            hostname,
            "--agent.logs.journal",
            "--agent.config",
            &config_arg,
        ];
        args.extend(flags);
        args.push(&service);
        let register = self.finchctl(&args).await;
        assert_eq!(register.code, Some(0), "{register:#?}");
        let alloy = std::fs::read_to_string(&config).unwrap();
        alloy
            .split("bearer_token = \"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .unwrap()
            .to_owned()
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

/// Every container with a health check is healthy; Loki, Mimir and Pyroscope have none of
/// their own (no shell in their images): their `hc-*` sidecars carry it.
pub fn assert_all_healthy() {
    for container in CONTAINERS {
        let state = docker::docker(&[
            "inspect",
            "--format",
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}} no-check{{end}}",
            container,
        ]);
        let expected = if ["loki", "mimir", "pyroscope"].contains(&container) {
            "running no-check"
        } else {
            "healthy"
        };
        assert_eq!(state.trim(), expected, "{container}");
    }
}
