//! A real Docker Engine for the deploy tests, and images built here since no registry is
//! reachable.
//!
//! [`host`] is the `DOCKER_HOST` of the one daemon every test of a run shares:
//! `scripts/test-docker start` starts Debian's `dockerd` with its own data root, exec root,
//! socket and pid file the first time and answers at once afterwards (a lock file orders tests
//! running in parallel); scripts/test stops it after the suite. Tests stay independent by giving
//! every compose project its own name and ports.
//!
//! [`ScratchImage`] (from `finch_standin::images`, which the quickstart shares) is an image
//! `FROM scratch` holding binaries and the libraries `ldd` lists for them, delivered as a
//! `docker save` archive, as `--stack.image-archive` takes it; [`image_builder`] builds them on
//! the shared daemon and caches the archives in the target dir. [`StackImages`] builds one for
//! each service of the stack (`docs/tests.md` says what each is).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use finch_standin::images::Builder;
#[allow(unused_imports)] // docker_engine builds an image of its own
pub use finch_standin::images::ScratchImage;

pub mod https;
pub mod stack;
mod stack_images;

#[allow(unused_imports)] // only the docker_stack_* tests build the whole stack
pub use stack_images::StackImages;

/// The shared daemon's `DOCKER_HOST`, started on first use.
pub fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-docker");
        let out = Command::new(script)
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .expect("cannot run scripts/test-docker");
        assert!(
            out.status.success(),
            "scripts/test-docker start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    })
}

/// Images built on the shared daemon, their archives cached in the target dir.
pub fn image_builder() -> Builder {
    Builder::new(
        host(),
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-images"),
    )
}

/// `docker` (or `docker-compose`, ...) pointed at the shared daemon.
pub fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    command.env("DOCKER_HOST", host()).stdin(Stdio::null());
    command
}

/// Runs `docker ARGS` on the shared daemon; its stdout, or a panic with its stderr.
pub fn docker(args: &[&str]) -> String {
    output(command("docker").args(args))
}

/// Runs a prepared command to completion; its stdout, or a panic with its stderr.
pub fn output(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A binary of this workspace, built beside the running test binary (`target/debug/NAME`).
/// A workspace test run builds every package's binaries; a narrow run (`-p finchctl`) does
/// not build other packages', so the message says how.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/debug/deps/<test>-<hash> → target/debug/<name>
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary sits in target/<profile>/deps")
        .join(name);
    assert!(
        path.is_file(),
        "{} not found: build it with `cargo build --bin {name}` (the workspace's test run does)",
        path.display()
    );
    path
}

/// A free loopback port (the daemon publishes on it; a port 0 binding is not reported back
/// through compose).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
