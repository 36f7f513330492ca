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
//! makes a new image and an unchanged one costs nothing. [`StackImages`] builds one for each
//! service of the stack (`docs/tests.md` says what each is).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest as _, Sha256};

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

/// An image `FROM scratch`: binaries with their libraries, files, directories and symlinks,
/// an entrypoint and a command, and `PATH` set as in Debian's images.
pub struct ScratchImage {
    /// `name`; the tag is the content hash.
    name: String,
    entries: Vec<Entry>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
}

/// One thing in an image's root.
#[derive(Debug)]
enum Entry {
    /// A file copied from this machine; `strip` drops a binary's debug info (a debug build of
    /// finch is 150 MB, a quarter of that without it, and every container copies its image).
    File {
        source: PathBuf,
        dest: String,
        strip: bool,
    },
    /// A directory with its mode.
    Dir { dest: String, mode: u32 },
    /// A symbolic link at `dest` to `target`.
    Symlink { dest: String, target: String },
}

/// The `PATH` of every scratch image: Debian's default, so compose commands find `bash`.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ScratchImage {
    /// An image called `name` (a stand-in's name says it is one), with a world-writable `/tmp`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            entries: Vec::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
        }
        .dir("/tmp", 0o1777)
    }

    /// Copies a binary to `dest` in the image without its debug info, with every library
    /// `ldd` lists for it.
    pub fn binary(mut self, source: &Path, dest: &str) -> Self {
        for library in libraries(source) {
            let dest = library.to_string_lossy().into_owned();
            if !self.has(&dest) {
                self = self.entry(Entry::File {
                    source: library,
                    dest,
                    strip: false,
                });
            }
        }
        self.entry(Entry::File {
            source: source.to_owned(),
            dest: dest.to_owned(),
            strip: true,
        })
    }

    /// Copies the named programs of this machine's `PATH` to `/usr/bin`, with their libraries.
    pub fn tools(mut self, names: &[&str]) -> Self {
        for name in names {
            let source = which(name);
            self = self.binary(&source, &format!("/usr/bin/{name}"));
        }
        self
    }

    /// Copies a plain file to `dest` in the image.
    pub fn file(self, source: &Path, dest: &str) -> Self {
        self.entry(Entry::File {
            source: source.to_owned(),
            dest: dest.to_owned(),
            strip: false,
        })
    }

    /// A directory with `mode`.
    pub fn dir(self, dest: &str, mode: u32) -> Self {
        self.entry(Entry::Dir {
            dest: dest.to_owned(),
            mode,
        })
    }

    /// A symbolic link at `dest` pointing to `target`.
    pub fn symlink(self, dest: &str, target: &str) -> Self {
        self.entry(Entry::Symlink {
            dest: dest.to_owned(),
            target: target.to_owned(),
        })
    }

    /// The entrypoint, as the exec form of a Dockerfile's.
    pub fn entrypoint(mut self, argv: &[&str]) -> Self {
        self.entrypoint = argv.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The command (the entrypoint's default arguments), as the exec form of a Dockerfile's.
    pub fn cmd(mut self, argv: &[&str]) -> Self {
        self.cmd = argv.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    fn has(&self, path: &str) -> bool {
        self.entries.iter().any(|entry| match entry {
            Entry::File { dest, .. } | Entry::Dir { dest, .. } | Entry::Symlink { dest, .. } => {
                dest == path
            }
        })
    }

    /// Builds the image (or finds it cached): its reference `name:HASH` and the archive.
    pub fn archive(&self) -> (String, PathBuf) {
        let mut hash = Sha256::new();
        for entry in &self.entries {
            // What the entry is, then what a copied file holds.
            hash.update(format!("{entry:?}\0"));
            if let Entry::File { source, .. } = entry {
                hash.update(std::fs::read(source).unwrap_or_else(|e| {
                    panic!("cannot read {}: {e}", source.display());
                }));
            }
        }
        for (key, value) in self.changes() {
            hash.update(format!("{key} {value}\0"));
        }
        let tag = content_tag(&hash.finalize());
        let reference = format!("{}:{tag}", self.name);
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-images");
        std::fs::create_dir_all(&cache).expect("cannot create the image cache");
        let archive = cache.join(format!("{}-{tag}.tar", self.name.replace('/', "_")));
        if !archive.exists() {
            self.build(&reference, &archive);
        }
        (reference, archive)
    }

    /// The Dockerfile instructions `docker import --change` applies.
    fn changes(&self) -> Vec<(&'static str, String)> {
        let json = |argv: &Vec<String>| serde_json::to_string(argv).expect("strings serialize");
        let mut changes = vec![
            ("ENV", format!("PATH={PATH}")),
            ("ENTRYPOINT", json(&self.entrypoint)),
        ];
        if !self.cmd.is_empty() {
            changes.push(("CMD", json(&self.cmd)));
        }
        changes
    }

    /// `docker import` of a root filesystem, then `docker save` (atomically) to `archive`.
    fn build(&self, reference: &str, archive: &Path) {
        let root = tempfile::tempdir().expect("temp dir");
        for entry in &self.entries {
            self.place(root.path(), entry);
        }
        let rootfs = tempfile::NamedTempFile::new().expect("temp file");
        output(
            Command::new("tar")
                .arg("-C")
                .arg(root.path())
                .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
                .arg(rootfs.path())
                .arg("."),
        );
        let mut import = vec!["import".to_owned()];
        for (key, value) in self.changes() {
            import.push("--change".to_owned());
            import.push(format!("{key} {value}"));
        }
        import.push(rootfs.path().to_string_lossy().into_owned());
        import.push(reference.to_owned());
        output(command("docker").args(&import));
        // Unique per process: two test binaries may build the same image at once.
        let partial = archive.with_extension(format!("tar.{}.partial", std::process::id()));
        docker(&["save", "-o", &partial.to_string_lossy(), reference]);
        std::fs::rename(&partial, archive).expect("cannot move the archive in place");
        self.prune(archive);
    }

    /// Removes this image's older archives and, where no container uses them, their images:
    /// every rebuilt binary makes a new one, and the cache would only grow.
    fn prune(&self, current: &Path) {
        let prefix = format!("{}-", self.name.replace('/', "_"));
        let Some(Ok(entries)) = current.parent().map(std::fs::read_dir) else {
            return;
        };
        for path in entries.filter_map(|entry| Some(entry.ok()?.path())) {
            let Some(tag) = path
                .file_name()
                .and_then(|name| name.to_str()?.strip_prefix(&prefix)?.strip_suffix(".tar"))
            else {
                continue;
            };
            if path != current && tag.bytes().all(|b| b.is_ascii_hexdigit()) {
                let _ = std::fs::remove_file(&path);
                let _ = command("docker")
                    .args(["rmi", &format!("{}:{tag}", self.name)])
                    .output();
            }
        }
    }

    /// Puts one entry into the image's root at `root`.
    fn place(&self, root: &Path, entry: &Entry) {
        use std::os::unix::fs::PermissionsExt as _;
        let at = |dest: &str| {
            let target = root.join(dest.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().expect("a path in the image has a parent"))
                .expect("cannot create a directory in the image root");
            target
        };
        match entry {
            Entry::File {
                source,
                dest,
                strip,
            } => {
                let target = at(dest);
                std::fs::copy(source, &target)
                    .unwrap_or_else(|e| panic!("cannot copy {}: {e}", source.display()));
                if *strip {
                    output(Command::new("strip").arg("--strip-debug").arg(&target));
                }
            }
            Entry::Dir { dest, mode } => {
                let target = at(dest);
                std::fs::create_dir_all(&target).expect("cannot create a directory");
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))
                    .expect("cannot set a directory's mode");
            }
            Entry::Symlink { dest, target } => {
                std::os::unix::fs::symlink(target, at(dest)).expect("cannot create a symlink");
            }
        }
    }
}

/// The tag of content with this SHA-256 digest: its first 16 hex digits.
fn content_tag(digest: &[u8]) -> String {
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A program on this machine's `PATH`.
fn which(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"))
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
