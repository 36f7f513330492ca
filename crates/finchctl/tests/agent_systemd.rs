//! `agent deploy`, `update` and `teardown` on a real Linux host with systemd as its init: the
//! kit's [`SystemdHost`] (a Debian root booted with systemd-nspawn in a network namespace of
//! its own), reached over SSH on its veth pair. Alloy is the stand-in of `agent/` (a shell
//! script serving Alloy's UI port); everything else is real: OpenSSH, sudo, systemd, useradd,
//! curl and unzip on the host, and finchctl's own checksum verification.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod agent;
mod support;

use std::time::Instant;

use agent::{Mirror, stand_in};
use finch_testkit::sshd::{Client, DEADLINE, SUDO_USER, Sshd};
use finch_testkit::systemd_host::SystemdHost;
use support::{Dir, Outcome, staged};

/// The files an install leaves on the host (the default layout).
const INSTALLED: [&str; 5] = [
    "/etc/systemd/system/alloy.service",
    "/usr/bin/alloy",
    "/etc/alloy",
    "/var/lib/alloy",
    "/etc/alloy/alloy.config",
];

/// A booted host, the test's SSH client reaching it as `agent-host`, and a finchctl home.
struct Bed {
    client: Client,
    host: SystemdHost,
    dir: Dir,
}

impl Bed {
    fn new(user: &str) -> Bed {
        let client = Client::new();
        let host = SystemdHost::boot(&client);
        eprintln!("systemd host booted in {:?}", host.boot_time);
        client.config(&host.host_block("agent-host", user));
        Bed {
            client,
            host,
            dir: Dir::new(),
        }
    }

    /// Runs finchctl with this bed's ssh config.
    async fn finchctl(&self, args: &[&str]) -> Outcome {
        let config = self.client.dir.path().join("config");
        let mut all = args.to_vec();
        let config = config.display().to_string();
        all.extend(["--ssh.config", &config]);
        let started = Instant::now();
        let out = self.dir.run(&all).await;
        eprintln!("finchctl {} {}: {:?}", args[0], args[1], started.elapsed());
        out
    }

    /// `agent deploy` of `config` with Alloy from `mirror`.
    async fn deploy_from(&self, config: &str, mirror: &str) -> Outcome {
        self.finchctl(&[
            "agent",
            "deploy",
            "agent-host",
            "--agent.config",
            config,
            "--alloy.mirror",
            mirror,
        ])
        .await
    }

    /// Writes an agent config into the finchctl home and returns its name.
    fn config(&self, marker: &str) -> &'static str {
        let text = format!(
            "loki.write \"default\" {{\n  endpoint {{\n    url = \"https://finch.example.com/loki/loki/api/v1/push\"\n    bearer_token = \"{marker}\"\n  }}\n  external_labels = {{\n    \"rid\" = \"rid:finch:0123456789abcdef:agent:test\",\n  }}\n}}\n"
        );
        std::fs::write(self.dir.path().join("agent.cfg"), text).unwrap();
        "agent.cfg"
    }

    fn sh(&self, line: &str) -> String {
        self.host.check(&self.client, line).trim().to_owned()
    }

    /// Alloy's main PID, once its port answers (the stand-in is up).
    fn running_pid(&self) -> String {
        let started = Instant::now();
        while self
            .host
            .sh(
                &self.client,
                "curl -fs -o /dev/null http://127.0.0.1:12345/",
            )
            .code
            != Some(0)
        {
            assert!(
                started.elapsed() < DEADLINE,
                "Alloy's port did not answer within {DEADLINE:?}:\n{}",
                self.host.sh(&self.client, "systemctl status alloy.service; journalctl -u alloy.service --no-pager | tail -n 20").stdout
            );
        }
        self.sh("systemctl show -p MainPID --value alloy.service")
    }

    /// Asserts that none of `INSTALLED`, nor the user, is on the host.
    fn assert_nothing_installed(&self) {
        for path in INSTALLED {
            self.sh(&format!("! test -e {path}"));
        }
        self.sh("! id alloy");
        self.sh("! systemctl is-active alloy.service");
    }
}

#[tokio::test]
async fn deploy_restarts_only_on_change_and_teardown_leaves_nothing() {
    let bed = Bed::new("root");
    let mirror = Mirror::start(bed.host.gateway.into(), false).await;
    let config = bed.config("token-1");
    let out = bed.deploy_from(config, &mirror.url).await;
    out.ok();
    assert!(
        out.stderr
            .contains("Started alloy on agent-host (linux-amd64)"),
        "{out:#?}"
    );
    let first = bed.running_pid();
    assert_eq!(
        bed.sh("stat -c '%a %U' /etc/alloy/alloy.config"),
        "600 alloy"
    );
    assert_eq!(bed.sh("stat -c '%a %U' /usr/bin/alloy"), "755 root");
    assert_eq!(bed.sh(&format!("ps -o user= -p {first}")), "alloy");
    let groups = bed.sh("id -nG alloy");
    assert!(
        groups.contains("systemd-journal") && groups.contains("adm"),
        "{groups}"
    );
    bed.sh("systemctl is-enabled alloy.service");

    // Nothing changed: no restart, and the account files are not rewritten.
    let accounts = "stat -c '%i %y' /etc/passwd /etc/group /etc/shadow /etc/gshadow";
    let before = bed.sh(accounts);
    let out = bed.deploy_from(config, &mirror.url).await;
    out.ok();
    assert!(out.stderr.contains("Unchanged"), "{out:#?}");
    assert_eq!(bed.running_pid(), first);
    assert_eq!(bed.sh(accounts), before);

    // Docker arrives after the agent: the next deploy adds the user to its group and
    // restarts Alloy, which runs with the groups it had when it started.
    bed.sh("groupadd --system docker");
    let out = bed.deploy_from(config, &mirror.url).await;
    out.ok();
    assert!(bed.sh("id -nG alloy").contains("docker"));
    let first = bed.running_pid();
    assert!(
        bed.sh(&format!("grep ^Groups: /proc/{first}/status"))
            .split_whitespace()
            .any(|gid| gid == bed.sh("getent group docker | cut -d: -f3")),
        "{out:#?}"
    );

    // A new config: restarted.
    bed.config("token-2");
    let out = bed.deploy_from(config, &mirror.url).await;
    out.ok();
    let second = bed.running_pid();
    assert_ne!(second, first, "{out:#?}");
    assert!(bed.sh("cat /etc/alloy/alloy.config").contains("token-2"));

    let out = bed.finchctl(&["agent", "teardown", "agent-host"]).await;
    out.ok();
    assert!(
        out.stderr.contains("rid:finch:0123456789abcdef:agent:test"),
        "{out:#?}"
    );
    bed.assert_nothing_installed();
    bed.sh("! systemctl cat alloy.service");
}

#[tokio::test]
async fn a_checksum_mismatch_installs_nothing_and_an_unreachable_host_gets_the_binary_from_here() {
    let bed = Bed::new(SUDO_USER);
    let config = bed.config("token");
    // The host reaches the mirror and downloads; the zip does not match SHA256SUMS.
    let tampered = Mirror::start(bed.host.gateway.into(), true).await;
    let out = bed.deploy_from(config, &tampered.url).await;
    out.code(1);
    assert!(out.stderr.contains("checksum mismatch"), "{out:#?}");
    bed.assert_nothing_installed();

    // On loopback the host cannot reach the mirror: this workstation downloads and verifies.
    let tampered = Mirror::start([127, 0, 0, 1].into(), true).await;
    let out = bed.deploy_from(config, &tampered.url).await;
    out.code(1);
    assert!(out.stderr.contains("checksum mismatch"), "{out:#?}");
    bed.assert_nothing_installed();

    let mirror = Mirror::start([127, 0, 0, 1].into(), false).await;
    let out = bed.deploy_from(config, &mirror.url).await;
    out.ok();
    assert!(out.stderr.contains("on this workstation"), "{out:#?}");
    bed.running_pid();
    assert_eq!(
        bed.sh("sha256sum < /usr/bin/alloy | cut -d' ' -f1"),
        agent::sha256(&stand_in())
    );
}

#[tokio::test]
async fn alloy_binary_is_uploaded_with_its_mode_and_owner() {
    let bed = Bed::new(SUDO_USER);
    let config = bed.config("token");
    let binary = agent::stand_in_path();
    let out = bed
        .finchctl(&[
            "agent",
            "deploy",
            "agent-host",
            "--agent.config",
            config,
            "--alloy.binary",
            &binary.display().to_string(),
        ])
        .await;
    out.ok();
    assert_eq!(bed.sh("stat -c '%a %U %G' /usr/bin/alloy"), "755 root root");
    assert_eq!(
        bed.sh("sha256sum < /usr/bin/alloy | cut -d' ' -f1"),
        agent::sha256(&stand_in())
    );
    bed.running_pid();
}

#[tokio::test]
async fn a_host_without_systemd_is_refused_before_anything_changes() {
    // This machine's own sshd: its init is not systemd.
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("plain-host", &sshd, "root"));
    let dir = Dir::new();
    std::fs::write(dir.path().join("agent.cfg"), "config").unwrap();
    let config = client.dir.path().join("config").display().to_string();
    let out = dir
        .run(&[
            "agent",
            "deploy",
            "plain-host",
            "--agent.config",
            "agent.cfg",
            "--alloy.mirror",
            "http://127.0.0.1:9/",
            "--ssh.config",
            &config,
        ])
        .await;
    out.code(1);
    assert!(
        out.stderr
            .contains("runs Linux without systemd (its init is"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("nothing was changed"), "{out:#?}");
    assert!(!std::path::Path::new("/etc/alloy/alloy.config").exists());
}

#[tokio::test]
async fn update_fetches_a_fresh_config_into_memory_only() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let service = stage.name();
    let rid = register(&dir, &service, "agent-host").await;
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let dir = dir.env("TMPDIR", &tmp.display().to_string());
    let bed = Bed {
        dir,
        ..Bed::new("root")
    };
    let mirror = Mirror::start(bed.host.gateway.into(), false).await;
    let before = listing(bed.dir.path());
    let renew = [
        "agent",
        "update",
        "agent-host",
        "--agent.rid",
        &rid,
        "--agent.service",
        &service,
        "--alloy.mirror",
        &mirror.url,
    ];
    bed.finchctl(&renew).await.ok();
    assert_eq!(
        bed.sh("stat -c '%a %U' /etc/alloy/alloy.config"),
        "600 alloy"
    );
    let first_config = bed.sh("cat /etc/alloy/alloy.config");
    assert!(first_config.contains("bearer_token"));
    let first = bed.running_pid();
    // Renewal: a new token in place, and a restart.
    bed.finchctl(&renew).await.ok();
    assert_ne!(bed.sh("cat /etc/alloy/alloy.config"), first_config);
    assert_ne!(bed.running_pid(), first);
    assert_eq!(
        listing(bed.dir.path()),
        before,
        "nothing new on the workstation"
    );
    let out = bed
        .finchctl(&[
            "agent",
            "teardown",
            "agent-host",
            "--agent.service",
            &service,
        ])
        .await;
    out.ok();
    assert!(
        out.stderr
            .contains(&format!("agent {rid} is still registered with {service}")),
        "{out:#?}"
    );
}

/// Registers `hostname` with `service` and returns its RID. The config it writes lands outside
/// the directories the tests watch, and is discarded.
async fn register(dir: &Dir, service: &str, hostname: &str) -> String {
    let elsewhere = tempfile::tempdir().unwrap();
    let config = elsewhere.path().join("registered.cfg");
    let config = config.display().to_string();
    let out = dir
        .run(&[
            "agent",
            "register",
            service,
            "--agent.hostname",
            hostname,
            "--agent.logs.journal",
            "--agent.config",
            &config,
            "--output.json",
        ])
        .await;
    out.json()["rid"]
        .as_str()
        .unwrap_or_else(|| panic!("{out:#?}"))
        .to_owned()
}

/// Every file under `dir`, recursively (the finchctl home, working directory and TMPDIR).
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_prefix_installs_a_service_and_user_of_its_own() {
    let bed = Bed::new(SUDO_USER);
    let config = bed.config("token");
    let binary = agent::stand_in_path().display().to_string();
    let prefix = ["--agent.prefix", "/opt/agents/a1"];
    let mut deploy = vec![
        "agent",
        "deploy",
        "agent-host",
        "--agent.config",
        config,
        "--alloy.binary",
        &binary,
    ];
    deploy.extend(prefix);
    bed.finchctl(&deploy).await.ok();
    bed.sh("systemctl is-active alloy-opt-agents-a1.service");
    assert_eq!(
        bed.sh("stat -c '%a %U' /opt/agents/a1/etc/alloy/alloy.config"),
        "600 alloy-opt-agents-a1"
    );
    // The default layout is untouched.
    bed.assert_nothing_installed();
    let mut teardown = vec!["agent", "teardown", "agent-host"];
    teardown.extend(prefix);
    bed.finchctl(&teardown).await.ok();
    bed.sh("! test -e /etc/systemd/system/alloy-opt-agents-a1.service");
    bed.sh("! id alloy-opt-agents-a1");
    bed.sh("! test -e /opt/agents/a1/etc/alloy");
    bed.sh("! test -e /opt/agents/a1/usr/bin/alloy");
}

#[tokio::test]
async fn doctor_reports_alloy_its_ports_token_and_registration() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let service = stage.name();
    let rid = register(&dir, &service, "doctor-host").await;
    let bed = Bed {
        dir,
        ..Bed::new("root")
    };
    let binary = agent::stand_in_path().display().to_string();
    bed.finchctl(&[
        "agent",
        "deploy",
        "agent-host",
        "--agent.rid",
        &rid,
        "--agent.service",
        &service,
        "--alloy.binary",
        &binary,
    ])
    .await
    .ok();
    bed.running_pid();
    let doctor = [
        "agent",
        "doctor",
        "agent-host",
        "--check.ports",
        "--agent.service",
        &service,
        "--output",
        "json",
    ];
    let out = bed.finchctl(&doctor).await;
    out.ok();
    let report = &out.json()[0];
    assert_eq!(report["init"], "systemd", "{report}");
    let agent = &report["agent"];
    assert_eq!(agent["installed"], true, "{report}");
    assert_eq!(agent["running"], true, "{report}");
    assert!(
        agent["version"].as_str().unwrap().contains("v1.18.0"),
        "{report}"
    );
    assert_eq!(agent["rid"], rid.as_str());
    assert_eq!(agent["registered"], "yes");
    let days = agent["token_days_left"].as_i64().unwrap();
    assert!((360..=366).contains(&days), "{report}");
    assert_eq!(agent["ports"]["12345"], "listening", "{report}");
    assert_eq!(agent["ports"]["3100"], "free", "{report}");
    assert!(
        !out.stdout.contains("bearer"),
        "the token stays on the host"
    );
    let token = bed
        .sh("sed -n 's/.*bearer_token = \"\\(.*\\)\"/\\1/p' /etc/alloy/alloy.config | head -n 1");
    assert!(!token.is_empty() && !out.stdout.contains(&token) && !out.stderr.contains(&token));

    // Deregistered: the stack no longer knows the RID, and the doctor says so.
    bed.dir
        .run(&["agent", "deregister", &service, "--agent.rid", &rid])
        .await
        .ok();
    let out = bed.finchctl(&doctor).await;
    out.code(1);
    assert!(
        out.stderr
            .contains(&format!("the stack does not know agent {rid}")),
        "{out:#?}"
    );

    // Stopped, and asked without a profile for the stack: unknown, and a problem to fix.
    bed.sh("systemctl stop alloy.service");
    let stranger = Bed {
        dir: Dir::new(),
        ..bed
    };
    let out = stranger
        .finchctl(&["agent", "doctor", "agent-host", "--output", "json"])
        .await;
    out.code(1);
    let agent = &out.first_json()[0]["agent"];
    assert_eq!(agent["running"], false, "{out:#?}");
    assert_eq!(agent["registered"], "unknown", "{out:#?}");
    assert!(out.stderr.contains("installed but not running"), "{out:#?}");
}
