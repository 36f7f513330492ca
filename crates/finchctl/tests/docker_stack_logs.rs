//! `finchctl service logs` on a deployed stack, for real (the [`stack_bed`]: the kit's OpenSSH
//! server as the non-root sudo user, the test Docker Engine): `--tail 5` names each service's
//! lines, an unknown service is refused with the known ones, and `--follow` ends on SIGINT
//! (Ctrl-C) with nothing of it left on the host. The host is this machine, so its process
//! table is read here: a process of the stream is one whose environment names the test
//! daemon (the stream runs with `DOCKER_HOST` set) and whose command line is the stream's
//! script, a `docker logs` or a line tagger.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod ssh;
mod stack_bed;

use std::process::Stdio;
use std::time::Duration;

use finch_testkit::eventually;
use finchctl::stack::Service;
use stack_bed::Bed;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The stack's services, as `service logs` names them.
fn services() -> impl Iterator<Item = &'static str> {
    Service::ALL.iter().map(|s| s.name())
}

/// The command lines of the processes on this machine that belong to a logs stream of the test
/// daemon.
fn stream_processes() -> Vec<String> {
    let marker = format!("DOCKER_HOST={}", docker::host());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let dir = entry.path();
        let (Ok(environ), Ok(cmdline)) = (
            std::fs::read(dir.join("environ")),
            std::fs::read(dir.join("cmdline")),
        ) else {
            continue;
        };
        let environ = String::from_utf8_lossy(&environ);
        if !environ.split('\0').any(|v| v == marker) {
            continue;
        }
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("docker logs")
            || cmdline.contains("docker compose logs")
            || cmdline.contains("docker-compose logs")
            || cmdline.starts_with("docker logs")
            || cmdline.contains(" logs --tail")
            || cmdline.contains("s/^/")
        {
            found.push(cmdline);
        }
    }
    found
}

fn logs_args(bed: &Bed, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["service".into(), "logs".into()];
    args.extend(bed.host_flags());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_name_each_service_and_a_follow_ends_on_ctrl_c_leaving_nothing() {
    let Some(bed) = Bed::new() else {
        return;
    };
    bed.deploy(&[]).await;

    let tail = bed.finchctl(&logs_args(&bed, &["--tail", "5"])).await;
    assert_eq!(tail.code, Some(0), "{tail:#?}");
    for service in services() {
        let prefix = format!("{service:<9} | ");
        let lines = tail
            .stdout
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .count();
        assert!(
            (1..=5).contains(&lines),
            "{service}: {lines} lines in\n{}",
            tail.stdout
        );
    }
    assert!(
        tail.stdout.lines().all(|l| l.contains(" | ")),
        "{}",
        tail.stdout
    );
    assert!(!tail.stdout.contains('\x1b'), "no colours off a terminal");

    let two = bed
        .finchctl(&logs_args(&bed, &["loki", "grafana", "--tail", "2"]))
        .await;
    assert_eq!(two.code, Some(0), "{two:#?}");
    assert!(
        two.stdout
            .lines()
            .all(|l| l.starts_with("grafana | ") || l.starts_with("loki    | ")),
        "{}",
        two.stdout
    );

    let unknown = bed.finchctl(&logs_args(&bed, &["postgres"])).await;
    assert_eq!(unknown.code, Some(2), "{unknown:#?}");
    assert!(
        unknown.stderr.contains(
            "unknown service \"postgres\": the stack's services are traefik, finch, grafana, loki, mimir, pyroscope, alloy; finch-2 to finch-8 name one Finch replica"
        ),
        "{}",
        unknown.stderr
    );

    // --follow: read until lines arrive, check the stream runs on the host, then Ctrl-C.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_finchctl"))
        .args(logs_args(&bed, &["--follow", "--tail", "1"]))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", bed.home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(stack_bed::DEPLOY_DEADLINE, lines.next_line())
        .await
        .expect("a line within the deadline")
        .unwrap();
    assert!(first.is_some_and(|l| l.contains(" | ")));
    let running = eventually(Duration::from_secs(30), || async {
        let found = stream_processes();
        (found.iter().filter(|c| c.contains("--follow")).count() >= Service::ALL.len())
            .then_some(found)
    })
    .await;
    assert!(
        running.is_some(),
        "the stream runs on the host: {:#?}",
        stream_processes()
    );
    let pid = child.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    // Drain stdout so the child never blocks on a full pipe while it ends.
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("finchctl ends after Ctrl-C")
        .unwrap();
    drain.abort();
    assert_eq!(status.code(), Some(0), "Ctrl-C ends a follow cleanly");
    let left = eventually(Duration::from_secs(30), || async {
        stream_processes().is_empty().then_some(())
    })
    .await;
    assert!(
        left.is_some(),
        "left on the host: {:#?}",
        stream_processes()
    );
}
