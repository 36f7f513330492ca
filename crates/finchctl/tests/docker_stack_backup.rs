//! `finchctl service backup` and `restore` for real (the [`stack_bed`]: the kit's OpenSSH
//! server as the non-root sudo user, the test Docker Engine, the stack's images built here).
//!
//! A backup is taken while agents push through Traefik (a write loop runs, and every push
//! marks the agent seen in the registry): the archive is 0600, no entry in it is readable by
//! others, and its registry passes SQLite's integrity check with the agents of that moment;
//! `--backup.data` adds the services' data directories.
//! A corrupted archive and a restore over a running stack without `--restore.replace` are
//! refused with nothing changed. Then the first host's "disk dies" (its containers go) and the
//! archive is restored into a second library with other ports, a new host: the agents' old
//! tokens pass `/auth` through its Traefik, and the operator's profile lists the agents.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod ssh;
mod stack_bed;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use finchctl::stack::backup::{Kind, archive};
use stack_bed::{Bed, Run, accepted, register_agent};

const AGENTS: [&str; 3] = ["web1", "web2", "db1"];

/// Pushes with every token through the stack's Traefik until stopped; counts the pushes.
struct WriteLoop {
    stop: Arc<AtomicBool>,
    pushes: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriteLoop {
    fn start(bed: &Bed, tokens: &[String]) -> WriteLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let pushes = Arc::new(AtomicUsize::new(0));
        let cert = bed.library.join("traefik/etc/certs.d/cert.pem");
        let url = format!("https://127.0.0.1:{}/mimir/api/v1/push", bed.https);
        let tokens = tokens.to_vec();
        let thread = {
            let (stop, pushes) = (stop.clone(), pushes.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for token in &tokens {
                        let _ = Command::new("curl")
                            .args(["-s", "-o", "/dev/null", "--max-time", "10", "--cacert"])
                            .arg(&cert)
                            .args(["-H", &format!("Authorization: {token}")])
                            .args(["-X", "POST", "--data-binary", ""])
                            .arg(&url)
                            .status();
                        pushes.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        WriteLoop {
            stop,
            pushes,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        self.pushes.load(Ordering::Relaxed)
    }
}

/// `finchctl service <command>` with the bed's host flags only, then `extra`.
async fn on_host(bed: &Bed, command: &str, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["service".into(), command.into()];
    args.extend(bed.host_flags());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    bed.finchctl(&args).await
}

/// `sqlite3 DB SQL`'s output.
fn sqlite3(database: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(database)
        .arg(sql)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_agents_push_then_restore_on_a_new_host() {
    let Some(mut bed) = Bed::new() else {
        return;
    };
    bed.deploy(&[]).await;
    let mut tokens = Vec::new();
    for agent in AGENTS {
        tokens.push(register_agent(&bed, agent).await);
    }

    // The backup, while every agent pushes.
    let writes = WriteLoop::start(&bed, &tokens);
    while writes.pushes.load(Ordering::Relaxed) < AGENTS.len() {
        std::thread::yield_now();
    }
    let file = bed.home.path().join("stack.tar.gz");
    let backup = on_host(&bed, "backup", &[&file.display().to_string()]).await;
    let pushes = writes.stop();
    assert_eq!(backup.code, Some(0), "backup: {backup:#?}");
    assert!(pushes > AGENTS.len(), "the write loop ran throughout");
    assert!(
        backup.stderr.contains("the registry (3 agents)"),
        "{}",
        backup.stderr
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let archive = archive::read(&file).unwrap();
    let manifest = &archive.manifest;
    assert_eq!(manifest.agents, 3);
    assert_eq!(manifest.service_name, bed.service());
    for entry in &manifest.entries {
        assert_eq!(
            entry.mode & 0o007,
            0,
            "{} is readable by others",
            entry.path
        );
    }
    for path in [
        "finch.json",
        "finch.db",
        "grafana/admin-password",
        "traefik/etc/certs.d/cert.pem",
        "traefik/etc/certs.d/key.pem",
    ] {
        let entry = manifest.entry(path).unwrap_or_else(|| panic!("{path}"));
        assert_eq!(entry.kind, Kind::File);
    }
    assert!(manifest.entry("loki/data").is_none(), "no data by default");
    let registry = bed.home.path().join("registry.db");
    std::fs::write(&registry, &archive.contents["finch.db"]).unwrap();
    assert_eq!(sqlite3(&registry, "PRAGMA integrity_check"), "ok");
    assert_eq!(sqlite3(&registry, "SELECT count(*) FROM agents"), "3");

    // --backup.data adds the services' data directories, copied while they run.
    let full = bed.home.path().join("full.tar.gz");
    let backup = on_host(
        &bed,
        "backup",
        &[&full.display().to_string(), "--backup.data"],
    )
    .await;
    assert_eq!(backup.code, Some(0), "backup --backup.data: {backup:#?}");
    let with_data = archive::read(&full).unwrap().manifest;
    assert!(with_data.data);
    for dir in ["loki/data", "mimir/data", "pyroscope/data"] {
        let entry = with_data.entry(dir).unwrap_or_else(|| panic!("{dir}"));
        assert_eq!(entry.kind, Kind::Dir);
    }

    // Refused with nothing changed: a corrupted archive, and a stack already there.
    let before = bed.containers();
    let corrupted = bed.home.path().join("corrupted.tar.gz");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&corrupted, bytes).unwrap();
    let new_library = bed.library.parent().unwrap().join("restored");
    let refused = restore(&bed, &new_library, &corrupted, &[]).await;
    assert_eq!(refused.code, Some(1), "{refused:#?}");
    assert!(
        refused.stderr.contains("refusing to restore"),
        "{}",
        refused.stderr
    );
    assert!(
        !new_library.exists(),
        "the corrupted archive changed the host"
    );
    let library = bed.library.clone();
    let refused = restore(&bed, &library, &file, &[]).await;
    assert_eq!(refused.code, Some(1), "{refused:#?}");
    assert!(
        refused.stderr.contains("--restore.replace"),
        "{}",
        refused.stderr
    );
    assert_eq!(bed.containers(), before, "the running stack was touched");

    // The disk dies; the archive goes onto a new host: another library, other ports.
    bed.remove_containers();
    bed.library = new_library;
    bed.http = docker::free_port();
    bed.https = docker::free_port();
    let restored = bed
        .service_command("restore", &[&file.display().to_string()])
        .await;
    assert_eq!(restored.code, Some(0), "restore: {restored:#?}");
    stack_bed::assert_all_healthy();
    for token in &tokens {
        assert!(
            accepted(&bed, token),
            "an old token through the new Traefik"
        );
    }
    let mut agents = bed.agents().await;
    agents.sort_unstable();
    let mut expected = AGENTS.to_vec();
    expected.sort_unstable();
    assert_eq!(agents, expected, "the operator's profile lists the agents");
}

/// `service restore` of `file` into `library`, with the bed's other flags.
async fn restore(bed: &Bed, library: &Path, file: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<String> = vec!["service".into(), "restore".into()];
    let mut flags = bed.host_flags();
    if let Some(at) = flags.iter().position(|f| f == "--service.library") {
        flags[at + 1] = library.display().to_string();
    }
    args.extend(flags);
    args.extend(bed.images.flags());
    args.push(file.display().to_string());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    bed.finchctl(&args).await
}
