//! A real Docker Engine for the deploy tests, and images built here since no registry is
//! reachable.
//!
//! [`host`] is the `DOCKER_HOST` of the one daemon every test of a run shares:
//! `scripts/test-docker start` starts Debian's `dockerd` with its own data root, exec root,
//! socket and pid file the first time and answers at once afterwards (a lock file orders tests
//! running in parallel); scripts/test stops it after the suite. Tests stay independent by giving
//! every compose project its own name and ports.
//!
//! [`ScratchImage`] is an image `FROM scratch` holding binaries and the libraries `ldd` lists
//! for them, delivered as a `docker save` archive, as `--stack.image-archive` takes it. Archives
//! are cached in the target dir under a name that hashes their contents, so a rebuilt binary
//! makes a new image and an unchanged one costs nothing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};

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

/// An image `FROM scratch` with files copied in and an entrypoint.
pub struct ScratchImage {
    /// `name:tag`; the tag is the content hash unless the test gives one.
    name: String,
    /// (file on this machine, path in the image)
    files: Vec<(PathBuf, String)>,
    entrypoint: Vec<String>,
}

impl ScratchImage {
    /// An image called `name` (a stand-in's name says it is one).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            files: Vec::new(),
            entrypoint: Vec::new(),
        }
    }

    /// Copies a binary to `dest` in the image, with every library `ldd` lists for it.
    pub fn binary(mut self, source: &Path, dest: &str) -> Self {
        for library in libraries(source) {
            let dest = library.to_string_lossy().into_owned();
            if !self.files.iter().any(|(_, d)| *d == dest) {
                self.files.push((library, dest));
            }
        }
        self.files.push((source.to_owned(), dest.to_owned()));
        self
    }

    /// The entrypoint, as the exec form of a Dockerfile's.
    pub fn entrypoint(mut self, argv: &[&str]) -> Self {
        self.entrypoint = argv.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Builds the image (or finds it cached): its reference `name:HASH` and the archive.
    pub fn archive(&self) -> (String, PathBuf) {
        let mut hash = Sha256::new();
        for (source, dest) in &self.files {
            hash.update(dest.as_bytes());
            hash.update([0]);
            hash.update(std::fs::read(source).unwrap_or_else(|e| {
                panic!("cannot read {}: {e}", source.display());
            }));
        }
        hash.update(serde_json::to_vec(&self.entrypoint).unwrap_or_default());
        let digest = hash.finalize();
        let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let reference = format!("{}:{tag}", self.name);
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-images");
        std::fs::create_dir_all(&cache).expect("cannot create the image cache");
        let archive = cache.join(format!("{}-{tag}.tar", self.name.replace('/', "_")));
        if !archive.exists() {
            self.build(&reference, &archive);
        }
        (reference, archive)
    }

    /// `docker import` of a root filesystem, then `docker save` (atomically) to `archive`.
    fn build(&self, reference: &str, archive: &Path) {
        let root = tempfile::tempdir().expect("temp dir");
        for (source, dest) in &self.files {
            let target = root.path().join(dest.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().expect("a file has a parent"))
                .expect("cannot create a directory in the image root");
            std::fs::copy(source, &target)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", source.display()));
        }
        std::fs::create_dir_all(root.path().join("tmp")).expect("cannot create /tmp");
        let rootfs = tempfile::NamedTempFile::new().expect("temp file");
        output(
            Command::new("tar")
                .arg("-C")
                .arg(root.path())
                .arg("-cf")
                .arg(rootfs.path())
                .arg("."),
        );
        let entrypoint = format!(
            "ENTRYPOINT {}",
            serde_json::to_string(&self.entrypoint).expect("strings serialize")
        );
        docker(&[
            "import",
            "--change",
            &entrypoint,
            &rootfs.path().to_string_lossy(),
            reference,
        ]);
        let partial = archive.with_extension("tar.partial");
        docker(&["save", "-o", &partial.to_string_lossy(), reference]);
        std::fs::rename(&partial, archive).expect("cannot move the archive in place");
    }
}

/// The libraries `ldd` lists for a binary (none for a static one), the loader included.
fn libraries(binary: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .expect("cannot run ldd");
    // A static binary makes ldd fail with "not a dynamic executable".
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// A free loopback port (the daemon publishes on it; a port 0 binding is not reported back
/// through compose).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
