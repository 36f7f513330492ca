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

use std::path::{Path, PathBuf};

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
/// `--run.parallel` is the fleet's size: every host at once. `FINCH_BENCH_ENROLL_ARGS` adds
/// finchctl arguments (split on whitespace), such as an `--ssh.option`.
///
/// Every host here shares this machine's CPUs, so each fresh enroll also reports the CPU time
/// the whole machine spent during it and that time spread over all its CPUs: the `floor` no
/// fleet of that size can beat on this machine, whatever finchctl does; and how much of that
/// CPU time each part of the bed spent ([`CpuGroup`]).
#[tokio::test]
#[ignore = "a benchmark: bench/run-enroll"]
async fn bench_enroll_1_10_50() {
    let mut parts = Vec::new();
    parts.extend(CpuGroup::join("service").map(|g| ("service", g)));
    let Some((stage, dir)) = staged(true).await else {
        panic!("the benchmark needs Traefik (FINCH_TEST_TRAEFIK)");
    };
    let service = stage.name();
    let client = Client::new();
    parts.extend(CpuGroup::join("hosts").map(|g| ("hosts", g)));
    let host = SystemdHost::boot(&client);
    parts.extend(CpuGroup::join("workstation").map(|g| ("workstation", g)));
    // all three, or none: a part missing would be counted in another
    let parts = Parts(if parts.len() == 3 { parts } else { Vec::new() });
    let sizes = [1usize, 10, 50];
    let blocks: String = sizes
        .iter()
        .flat_map(|n| (0..*n).map(move |i| format!("b{n}-{i}")))
        .map(|a| host.host_block(&a, "root"))
        .collect();
    let ssh_config = client.config(&blocks).display().to_string();
    let binary = agent::stand_in_path().display().to_string();
    let extra = std::env::var("FINCH_BENCH_ENROLL_ARGS").unwrap_or_default();
    let cpus = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count() as f64;
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
        args.extend(extra.split_whitespace().map(str::to_owned));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let busy = busy_cpu_seconds();
        let before = parts.seconds();
        let started = std::time::Instant::now();
        let out = dir.run(&argv).await;
        let fresh = started.elapsed().as_secs_f64();
        let cpu = busy_cpu_seconds() - busy;
        let split = parts.since(&before, "");
        out.ok();
        let before = parts.seconds();
        let started = std::time::Instant::now();
        dir.run(&argv).await.ok();
        let again = started.elapsed();
        let rerun_split = parts.since(&before, "rerun_");
        let base = *first.get_or_insert(fresh);
        let floor = cpu / cpus;
        println!(
            "BENCH enroll hosts={n} fresh={fresh:.2}s ratio={:.2} rerun={:.2}s cpu={cpu:.1}s floor={floor:.2}s floor_ratio={:.2} {split} {rerun_split}",
            fresh / base,
            again.as_secs_f64(),
            floor / base
        );
    }
    // the bed stops before its cgroups go
    drop(host);
    drop(stage);
}

/// The CPU time this machine's CPUs have spent on everything (user, nice, system, interrupts)
/// since boot, from the first line of `/proc/stat`.
fn busy_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap())
        .collect();
    // user nice system idle iowait irq softirq: all but idle and iowait
    let busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6];
    // /proc/stat counts in USER_HZ, 100 on x86_64 and arm64
    busy / 100.0
}

/// A cgroup of the benchmark's own (named `finch-bench-<pid>-<part>`) that the test process
/// joins just before it starts one part of the bed, so that the part and everything it ever
/// starts are counted there and nowhere else: the service (`finch` and Traefik), the hosts
/// (the booted root: its sshd, shells, systemd, the Alloy stand-ins) and the workstation
/// (finchctl and its `ssh` processes, masters included, which leave their parent behind).
/// `None` where no cgroup can be made (not root, or no cgroup filesystem).
struct CpuGroup {
    dir: PathBuf,
    parent: PathBuf,
}

impl CpuGroup {
    fn join(part: &str) -> Option<Self> {
        let v1 = Path::new("/sys/fs/cgroup/cpuacct");
        let parent = if v1.join("cpuacct.usage").exists() {
            v1
        } else {
            Path::new("/sys/fs/cgroup")
        };
        let dir = parent.join(format!("finch-bench-{}-{part}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let group = CpuGroup {
            dir,
            parent: parent.to_owned(),
        };
        let pid = std::process::id().to_string();
        std::fs::write(group.dir.join("cgroup.procs"), pid).ok()?;
        Some(group)
    }

    /// The CPU time of everything in the cgroup so far.
    fn seconds(&self) -> f64 {
        if let Ok(ns) = std::fs::read_to_string(self.dir.join("cpuacct.usage")) {
            return ns.trim().parse::<f64>().unwrap() / 1e9;
        }
        let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).unwrap();
        let usec = stat
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .unwrap();
        usec.trim().parse::<f64>().unwrap() / 1e6
    }
}

/// The CPU time of each part of the bed.
struct Parts(Vec<(&'static str, CpuGroup)>);

impl Parts {
    fn seconds(&self) -> Vec<f64> {
        self.0.iter().map(|(_, g)| g.seconds()).collect()
    }

    /// `<prefix><name>_cpu=<seconds>` of each part since `before`, or that the parts were not
    /// measured.
    fn since(&self, before: &[f64], prefix: &str) -> String {
        if self.0.is_empty() {
            return format!("{prefix}parts=unmeasured");
        }
        self.0
            .iter()
            .zip(before)
            .map(|((name, g), b)| format!("{prefix}{name}_cpu={:.2}s", g.seconds() - b))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        let pid = std::process::id().to_string();
        let _ = std::fs::write(self.parent.join("cgroup.procs"), pid);
        // the part's processes may take a moment to be gone after it is stopped
        for _ in 0..20 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
