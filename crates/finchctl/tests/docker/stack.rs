//! A whole stack on the shared daemon: clearing what an earlier run left, a guard that takes
//! a compose project down, waiting until every container is healthy, and HTTP from inside the
//! stack's network (to reach a service no port publishes).
//!
//! The stack's container names and network are fixed, so one stack runs at a time: the tests
//! that use these live in `docker_stack_*` binaries, which `.config/nextest.toml` runs one
//! after the other.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use finchctl::stack::compose::SIDECARS;
use finchctl::stack::images::Service;

use super::https::Answer;
use super::{command, output};

/// The stack's fixed container names, as the compose file names them: one per service (a
/// single Finch replica), then the `hc-*` sidecars.
pub fn containers() -> Vec<String> {
    Service::ALL
        .iter()
        .map(|service| service.name().to_owned())
        .chain(SIDECARS.iter().map(|service| format!("hc-{service}")))
        .collect()
}
/// The stack's network.
pub const NETWORK: &str = "finch";
/// How long a fresh stack may take to turn healthy: the health checks run every 10 s, and a
/// loaded machine starts ten containers slowly.
pub const HEALTHY_DEADLINE: Duration = Duration::from_secs(180);
/// The Docker socket Alloy's container mounts from the host.
const HOST_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// How long one request from inside the stack may take.
const EXEC_TIMEOUT: &str = "30";

/// Removes every container and the network a stack of an earlier, interrupted run may have
/// left on the shared daemon.
pub fn clear_stack() {
    let mut args = vec!["rm".to_owned(), "-f".to_owned(), "-v".to_owned()];
    args.extend(containers());
    // Missing containers make `docker rm` fail: nothing to clear.
    let _ = command("docker").args(&args).output();
    let _ = command("docker").args(["network", "rm", NETWORK]).output();
}

/// A compose project brought up in a rendered library: `down -v` when dropped, also when the
/// test fails, then the library goes (its files are root's; the tests run as root).
pub struct ComposeProject {
    /// The library holding `docker-compose.yaml`.
    pub dir: PathBuf,
    /// The project name.
    pub project: String,
}

impl ComposeProject {
    /// `docker-compose -p PROJECT up -d` in `dir`, after [`clear_stack`].
    pub fn up(dir: &Path, project: &str) -> ComposeProject {
        clear_stack();
        let guard = ComposeProject {
            dir: dir.to_owned(),
            project: project.to_owned(),
        };
        output(guard.compose().args(["up", "-d"]));
        guard
    }

    /// `docker-compose -p PROJECT` in the library.
    pub fn compose(&self) -> std::process::Command {
        let mut compose = command("docker-compose");
        compose.current_dir(&self.dir).args(["-p", &self.project]);
        compose
    }
}

impl Drop for ComposeProject {
    fn drop(&mut self) {
        let down = self
            .compose()
            .args(["down", "-v", "--timeout", "5"])
            .output();
        if !down.as_ref().is_ok_and(|out| out.status.success()) {
            eprintln!("docker-compose down failed: {down:?}");
            clear_stack();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        // Alloy's compose file mounts the host's /var/run/docker.sock; where no daemon listens
        // there, Docker created an empty directory in its place: remove only that.
        let socket = Path::new(HOST_DOCKER_SOCKET);
        if socket.is_dir() {
            let _ = std::fs::remove_dir(socket);
        }
    }
}

/// One container's state: name, status (`running`) and health (`healthy`, or `none` when it
/// has no health check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// The container's name.
    pub name: String,
    /// Docker's status.
    pub status: String,
    /// Docker's health status, or `none`.
    pub health: String,
}

impl ContainerState {
    /// Running, and healthy when it has a health check.
    pub fn is_ready(&self) -> bool {
        self.status == "running" && matches!(self.health.as_str(), "healthy" | "none")
    }
}

/// The state of each of the stack's containers that exists.
pub fn states() -> Vec<ContainerState> {
    let mut args = vec![
        "inspect",
        "-f",
        "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}",
    ];
    let containers = containers();
    args.extend(containers.iter().map(String::as_str));
    // `inspect` fails while a container is missing, yet prints the others.
    let out = command("docker")
        .args(&args)
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(ContainerState {
                name: words.next()?.trim_start_matches('/').to_owned(),
                status: words.next()?.to_owned(),
                health: words.next()?.to_owned(),
            })
        })
        .collect()
}

/// Waits until all ten containers are ready (under [`HEALTHY_DEADLINE`]); on failure panics
/// with each one that is not and the tail of its log.
pub async fn wait_healthy() {
    let ready = finch_testkit::eventually(HEALTHY_DEADLINE, || async {
        let states = states();
        (states.len() == containers().len() && states.iter().all(ContainerState::is_ready))
            .then_some(())
    })
    .await;
    if ready.is_none() {
        let mut report = String::new();
        for state in states().iter().filter(|s| !s.is_ready()) {
            let logs = command("docker")
                .args(["logs", "--tail", "40", &state.name])
                .output()
                .map(|out| {
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    )
                })
                .unwrap_or_else(|e| e.to_string());
            report.push_str(&format!("\n--- {state:?}\n{logs}"));
        }
        let missing: Vec<String> = containers()
            .into_iter()
            .filter(|name| !states().iter().any(|s| s.name == *name))
            .collect();
        panic!(
            "the stack is not healthy after {HEALTHY_DEADLINE:?} (missing: {missing:?}):{report}"
        );
    }
}

/// An HTTP/1.0 request sent from inside `container` (an image with bash and cat: Finch's, as
/// the `hc-*` sidecars run it) to `host:port` on the stack's network.
/// This reaches services no port publishes, such as the Mimir stand-in's Prometheus.
pub fn stack_http(
    container: &str,
    host: &str,
    port: u16,
    request: (&str, &str),
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let (method, path) = request;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let script =
        r#"exec 3<>"/dev/tcp/$1/$2" && printf '%s' "$REQUEST_HEAD" >&3 && cat >&3 && cat <&3"#;
    let mut child = std::process::Command::new("timeout")
        .args([EXEC_TIMEOUT, "docker", "exec", "-i", "-e"])
        .arg(format!("REQUEST_HEAD={head}"))
        .args([
            container,
            "bash",
            "-c",
            script,
            "bash",
            host,
            &port.to_string(),
        ])
        .env("DOCKER_HOST", super::host())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run docker exec");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(body)
        .expect("cannot send the request body");
    let out = child.wait_with_output().expect("docker exec");
    let response = String::from_utf8_lossy(&out.stdout);
    super::https::parse(&response).unwrap_or_else(|e| {
        panic!(
            "no HTTP answer from {host}:{port} in {container}: {e} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
