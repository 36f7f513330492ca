//! `agent enroll` of a fleet: ten targets that are ssh config aliases of one host, each
//! installing into its own directory (`--agent.prefix /opt/agents/{host}`), registered with
//! the real service behind a real Traefik ([`staged`]), plus one target nothing answers.
//!
//! The host is the kit's [`SystemdHost`] (agents install as systemd services, which this
//! machine's own loopback sshd cannot offer: its init is not systemd), reached over OpenSSH on
//! its private veth pair. Alloy is the stand-in of `agent/`, uploaded with `--alloy.binary`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod agent;
mod support;

use finch_testkit::sshd::{Client, free_port};
use finch_testkit::systemd_host::SystemdHost;
use support::staged;

/// How many aliases of the host enroll.
const FLEET: usize = 10;

fn alias(i: usize) -> String {
    format!("agent-{i}")
}

fn unit(i: usize) -> String {
    format!("alloy-opt-agents-agent-{i}.service")
}

#[tokio::test]
async fn ten_aliases_enroll_in_parallel_a_rerun_changes_nothing_and_a_dead_host_fails_alone() {
    let Some((stage, dir)) = staged(true).await else {
        return;
    };
    let service = stage.name();
    let client = Client::new();
    let host = SystemdHost::boot(&client);
    let mut blocks: String = (0..FLEET)
        .map(|i| host.host_block(&alias(i), "root"))
        .collect();
    blocks.push_str(&format!(
        "Host agent-down\n  HostName 127.0.0.1\n  Port {}\n  User root\n",
        free_port()
    ));
    let ssh_config = client.config(&blocks).display().to_string();
    let binary = agent::stand_in_path().display().to_string();
    let enroll = |extra: &[&str]| {
        let mut args: Vec<String> = ["agent", "enroll", &service]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend((0..FLEET).map(alias));
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(
            [
                "--agent.logs.journal",
                "--agent.prefix",
                "/opt/agents/{host}",
                "--alloy.binary",
                &binary,
                "--run.parallel",
                "10",
                "--ssh.config",
                &ssh_config,
                "--output",
                "json",
            ]
            .map(str::to_owned),
        );
        args
    };

    // The first run: the dead host fails, alone.
    let args = enroll(&["agent-down"]);
    let out = dir
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    out.code(1);
    assert!(
        out.stderr.contains("1 of 11 hosts failed: agent-down"),
        "{out:#?}"
    );
    let rows = out.first_json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), FLEET + 1);
    for (i, row) in rows.iter().take(FLEET).enumerate() {
        assert_eq!(row["host"], alias(i));
        assert_eq!(row["hostname"], alias(i));
        assert_eq!(row["result"], "enrolled", "{row}");
        assert!(row["rid"].as_str().unwrap().starts_with("rid:finch:"));
    }
    assert_eq!(rows[FLEET]["result"], "failed");
    assert!(rows[FLEET]["rid"].is_null());

    let pids: Vec<String> = (0..FLEET)
        .map(|i| {
            host.check(&client, &format!("systemctl is-active {}", unit(i)));
            let config = format!("/opt/agents/agent-{i}/etc/alloy/alloy.config");
            assert_eq!(
                host.check(&client, &format!("stat -c '%a %U' {config}"))
                    .trim(),
                format!("600 alloy-opt-agents-agent-{i}")
            );
            host.check(
                &client,
                &format!("systemctl show -p MainPID --value {}", unit(i)),
            )
        })
        .collect();
    let listed = dir.run(&["agent", "list", &service, "--output.json"]).await;
    assert_eq!(listed.json().as_array().unwrap().len(), FLEET);

    // A re-run: every host is enrolled and healthy, nothing is registered or restarted.
    let args = enroll(&[]);
    let out = dir
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    out.ok();
    let rows = out.json();
    for (i, row) in rows.as_array().unwrap().iter().enumerate() {
        assert_eq!(row["result"], "skipped", "{row}");
        let pid = host.check(
            &client,
            &format!("systemctl show -p MainPID --value {}", unit(i)),
        );
        assert_eq!(pid, pids[i], "{} was restarted", unit(i));
    }
    assert!(!out.stderr.contains("Registered"), "{out:#?}");
    let listed = dir.run(&["agent", "list", &service, "--output.json"]).await;
    assert_eq!(listed.json().as_array().unwrap().len(), FLEET);
}

/// The benchmark behind `bench/run-enroll`: `agent enroll` of 1, 10 and 50 aliases of one
/// systemd host, side by side in one run (each size on agents of its own), then the same
/// command again with every host already enrolled. Prints `BENCH` lines; asserts no timing.
/// `--run.parallel` is the fleet's size: every host at once.
#[tokio::test]
#[ignore = "a benchmark: bench/run-enroll"]
async fn bench_enroll_1_10_50() {
    let Some((stage, dir)) = staged(true).await else {
        panic!("the benchmark needs Traefik (FINCH_TEST_TRAEFIK)");
    };
    let service = stage.name();
    let client = Client::new();
    let host = SystemdHost::boot(&client);
    let sizes = [1usize, 10, 50];
    let blocks: String = sizes
        .iter()
        .flat_map(|n| (0..*n).map(move |i| format!("b{n}-{i}")))
        .map(|a| host.host_block(&a, "root"))
        .collect();
    let ssh_config = client.config(&blocks).display().to_string();
    let binary = agent::stand_in_path().display().to_string();
    let mut first = None;
    for n in sizes {
        let mut args: Vec<String> = vec!["agent".into(), "enroll".into(), service.clone()];
        args.extend((0..n).map(|i| format!("b{n}-{i}")));
        let parallel = n.to_string();
        args.extend(
            [
                "--agent.logs.journal",
                "--agent.prefix",
                "/opt/bench/{host}",
                "--alloy.binary",
                &binary,
                "--run.parallel",
                &parallel,
                "--ssh.config",
                &ssh_config,
            ]
            .map(str::to_owned),
        );
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let started = std::time::Instant::now();
        let out = dir.run(&argv).await;
        let fresh = started.elapsed();
        out.ok();
        let started = std::time::Instant::now();
        dir.run(&argv).await.ok();
        let again = started.elapsed();
        let base = *first.get_or_insert(fresh.as_secs_f64());
        println!(
            "BENCH enroll hosts={n} fresh={:.2}s ratio={:.2} rerun={:.2}s",
            fresh.as_secs_f64(),
            fresh.as_secs_f64() / base,
            again.as_secs_f64()
        );
    }
}
