//! finchctl's SSH commands against a real OpenSSH server on loopback (see `ssh/mod.rs`):
//! config aliases, ProxyJump, host keys, dry runs, several targets at once, Ctrl-C and the run
//! formats, through the doctors (the SSH commands built so far). The steps themselves (uploads,
//! quoting, sudo, timeouts) are tested through the library in `target_steps.rs`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod ssh;

use ssh::{Client, SUDO_USER, Sshd, config_arg, doctor, finchctl, wait_for};

/// The JSON step objects among `text`'s lines.
fn json_steps(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

const DOCTOR_STEPS: [&str; 6] = [
    "Read the OS",
    "Read the kernel",
    "Read the architecture",
    "Find the init system",
    "Read the user",
    "Check sudo",
];
/// The step `agent doctor` adds to [`DOCTOR_STEPS`].
const AGENT_STEP: &str = "Read the installed agent";

#[tokio::test]
async fn config_alias_with_port_user_and_identity_file_and_json_steps() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    client.config(&Client::host("web", &sshd, SUDO_USER));
    let home = tempfile::tempdir().unwrap();
    let out = doctor(
        &client,
        home.path(),
        "agent",
        &["web", "--run.format", "json", "--output", "json"],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let facts: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let host = &facts[0];
    assert_eq!(host["target"], "web");
    assert_eq!(host["user"], SUDO_USER);
    assert_eq!(host["sudo"], "passwordless");
    assert_eq!(host["init"].as_str().map(str::is_empty), Some(false));
    assert_eq!(
        host["arch"].as_str().unwrap(),
        ssh::run("uname", &["-m"]).trim()
    );
    // The run report: one parseable object per step, naming each.
    let steps = json_steps(&out.stderr);
    let names: Vec<&str> = steps.iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [&DOCTOR_STEPS[..], &[AGENT_STEP]].concat(),
        "{out:#?}"
    );
    for step in &steps {
        assert_eq!(step["status"], "ok");
        assert_eq!(step["target"], "web");
        assert!(step["command"].as_str().is_some_and(|c| !c.is_empty()));
    }
    assert!(
        sshd.log()
            .contains(&format!("Accepted publickey for {SUDO_USER}"))
    );
}

#[tokio::test]
async fn proxy_jump_through_a_second_sshd() {
    let client = Client::new();
    let jump = Sshd::builder().log_level("DEBUG").start(&client);
    let inner = Sshd::start(&client);
    // ssh passes only -F to the jump's own ssh: its host key policy comes from the config.
    client.config(&format!(
        "{}  StrictHostKeyChecking accept-new\n{}  ProxyJump jump\n",
        Client::host("jump", &jump, "root"),
        Client::host("inner", &inner, "root"),
    ));
    let home = tempfile::tempdir().unwrap();
    let out = doctor(&client, home.path(), "agent", &["inner"]).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("not needed (root)"), "{out:#?}");
    // The jump host forwarded a connection to the inner sshd's port.
    let forwarded = format!("port {}", inner.port);
    assert!(
        jump.log()
            .lines()
            .any(|l| l.contains("direct-tcpip") || l.contains(&forwarded)),
        "{}",
        jump.log()
    );
}

#[tokio::test]
async fn new_host_key_is_recorded_and_a_changed_one_is_refused() {
    let client = Client::new();
    let first = Sshd::start(&client);
    let second = Sshd::start(&client);
    // Both aliases check their key against the same known_hosts name, as a reinstalled host would.
    client.config(&format!(
        "{}  HostKeyAlias box\n{}  HostKeyAlias box\n",
        Client::host("box", &first, "root"),
        Client::host("box-reinstalled", &second, "root"),
    ));
    let home = tempfile::tempdir().unwrap();
    assert_eq!(client.known_hosts(), "");
    let out = doctor(&client, home.path(), "agent", &["box"]).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let first_key = std::fs::read_to_string(first.dir.path().join("host_key.pub")).unwrap();
    let key_body = first_key.split_whitespace().nth(1).unwrap();
    assert!(
        client.known_hosts().contains(key_body),
        "{}",
        client.known_hosts()
    );

    let out = doctor(&client, home.path(), "agent", &["box-reinstalled"]).await;
    assert_eq!(out.code, Some(1), "{out:#?}");
    let new_fingerprint = ssh::fingerprint(&second.dir.path().join("host_key.pub"));
    assert!(out.stderr.contains("has changed"), "{out:#?}");
    assert!(out.stderr.contains(&new_fingerprint), "{out:#?}");
    assert!(
        out.stderr.contains("ssh-keygen") && out.stderr.contains(" -R "),
        "{out:#?}"
    );
    assert_eq!(out.stdout, "");
    assert!(!second.log().contains("Accepted"), "{}", second.log());

    // `yes` refuses a host that is not in known_hosts at all.
    client.config(&Client::host("stranger", &second, "root"));
    let out = doctor(
        &client,
        home.path(),
        "agent",
        &["stranger", "--ssh.host-key-check", "yes"],
    )
    .await;
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr
            .contains("is not known and --ssh.host-key-check=yes"),
        "{out:#?}"
    );

    // `no` connects anyway, and says so.
    let out = doctor(
        &client,
        home.path(),
        "agent",
        &["stranger", "--ssh.host-key-check", "no"],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.contains("warning: --ssh.host-key-check=no"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn dry_run_against_a_dead_port_prints_the_plan() {
    let home = tempfile::tempdir().unwrap();
    let port = ssh::free_port().to_string();
    let target = format!("root@127.0.0.1:{port}");
    let out = finchctl(
        home.path(),
        &[
            "service",
            "doctor",
            &target,
            "--run.dry-run",
            "--run.format",
            "documentation",
        ],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    for step in DOCTOR_STEPS {
        assert!(
            out.stderr.contains(&format!("[{target}] {step}: ")),
            "{out:#?}"
        );
    }
}

#[tokio::test]
async fn documentation_output_is_golden() {
    let home = tempfile::tempdir().unwrap();
    let out = finchctl(
        home.path(),
        &[
            "agent",
            "doctor",
            "root@db.example:2222",
            "deploy@web.example",
            "--run.dry-run",
            "--run.format",
            "documentation",
            "--run.parallel",
            "1",
        ],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    // `SNAPSHOTS=overwrite` rewrites the file; the summary's times are `[..]` in it.
    snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .normalize_paths(false)
        .eq(out.stderr, snapbox::file!["golden/doctor_dry_run.txt"]);
}

#[tokio::test]
async fn parallel_runs_overlap_and_the_summary_lists_every_target() {
    let client = Client::new();
    let sshd = Sshd::start(&client);
    let barrier = tempfile::tempdir().unwrap();
    let b = barrier.path().display();
    // Each connection waits in its ProxyCommand until all ten are connecting at once: the run
    // can only finish if the ten targets really run concurrently.
    let mut hosts = String::new();
    let mut aliases = Vec::new();
    for i in 0..10 {
        let alias = format!("node{i}");
        hosts.push_str(&Client::host(&alias, &sshd, "root"));
        hosts.push_str(&format!(
            "  ProxyCommand bash -c 'touch {b}/%n; until [ $(ls {b} | wc -l) -ge 10 ]; do sleep 0.05; done; exec 3<>/dev/tcp/%h/%p; cat <&3 & p=$!; cat >&3; kill $p'\n"
        ));
        aliases.push(alias);
    }
    client.config(&hosts);
    let home = tempfile::tempdir().unwrap();
    let cfg = config_arg(&client);
    let mut args = vec!["agent", "doctor"];
    args.extend(aliases.iter().map(String::as_str));
    args.extend([
        "--ssh.config",
        &cfg,
        "--run.parallel",
        "10",
        "--run.format",
        "json",
    ]);
    let out = finchctl(home.path(), &args).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let summary: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("node"))
        .collect();
    assert_eq!(summary.len(), 10, "{out:#?}");
    for alias in &aliases {
        assert!(
            summary
                .iter()
                .any(|l| l.starts_with(&format!("{alias} ")) && l.contains(" ok ")),
            "{out:#?}"
        );
    }
    assert_eq!(json_steps(&out.stderr).len(), 10 * (DOCTOR_STEPS.len() + 1));
    // Each host has a row in the transport table and one in the agent's.
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("node")).count(),
        20
    );
}

#[tokio::test]
async fn ctrl_c_while_connecting_exits_130() {
    let client = Client::new();
    let marker = tempfile::tempdir().unwrap();
    let m = marker.path().join("connecting");
    client.config(&format!(
        "Host stuck\n  HostName 127.0.0.1\n  ProxyCommand sh -c 'touch {}; exec cat 3>&1 >/dev/null'\n",
        m.display()
    ));
    let home = tempfile::tempdir().unwrap();
    let cfg = config_arg(&client);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_finchctl"))
        .args(["agent", "doctor", "stuck", "--ssh.config", &cfg])
        .env("HOME", home.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(home.path().join("stderr")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The ProxyCommand never answers: it keeps its stdout open (fd 3) and ends when ssh does,
    // with its stdin.
    wait_for("ssh to start its ProxyCommand", || m.exists());
    let pid = child.id().unwrap().to_string();
    ssh::run("kill", &["-INT", &pid]);
    let status = tokio::time::timeout(ssh::DEADLINE, child.wait())
        .await
        .unwrap()
        .unwrap();
    let stderr = std::fs::read_to_string(home.path().join("stderr")).unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}: {stderr}");
}

#[tokio::test]
async fn the_local_names_run_in_the_local_shell() {
    let home = tempfile::tempdir().unwrap();
    let out = finchctl(
        home.path(),
        &["agent", "doctor", "localhost", "local", "-o", "json"],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let facts: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let me = ssh::run("id", &["-un"]);
    for (i, name) in ["localhost", "local"].iter().enumerate() {
        assert_eq!(facts[i]["target"], *name);
        assert_eq!(facts[i]["user"], me.trim());
    }
}
