//! [`Sshd`]: a real OpenSSH server on loopback for tests that reach a target over SSH, and
//! [`Client`], the test's own `~/.ssh`.
//!
//! [`Sshd`] runs `/usr/sbin/sshd -D -f CONFIG -E LOG` on 127.0.0.1 with its own generated host
//! key, `authorized_keys`, `UsePAM no` and a `PidFile`, all in a temp dir; it is killed on drop.
//! [`Client`] is the test's own `~/.ssh`: a key pair, a `known_hosts` and a config file that
//! finchctl gets with `--ssh.config` (OpenSSH reads `~` from the passwd entry, not `$HOME`, so
//! a test cannot point it elsewhere any other way). Tests run as root (sshd needs it); the
//! non-root users come from scripts/setup.
//!
//! sshd cannot report a port 0 binding either, so like [`crate::Traefik`] it is offered a port
//! that was free a moment ago; when sshd exits saying "Address already in use", it is started
//! again on a fresh port, and any other exit fails the test with sshd's log.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A non-root user with passwordless sudo (created by scripts/setup).
pub const SUDO_USER: &str = "finch-test-sudo";
/// A non-root user whose sudo asks for a password (created by scripts/setup).
pub const PASSWORD_SUDO_USER: &str = "finch-test-pw";
/// How long anything in these tests may take before it counts as hung.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// How many fresh ports sshd is offered before a test gives up.
const PORT_ATTEMPTS: usize = 5;

/// The test's SSH client files.
pub struct Client {
    /// The directory: `id_ed25519`, `known_hosts`, `config`.
    pub dir: tempfile::TempDir,
}

/// One running sshd; killed on drop.
pub struct Sshd {
    /// Its configuration, host key, `authorized_keys` and log.
    pub dir: tempfile::TempDir,
    /// The port it listens on at 127.0.0.1.
    pub port: u16,
    child: std::process::Child,
}

/// Settings of an sshd.
#[derive(Default)]
pub struct SshdBuilder {
    log_level: Option<&'static str>,
    path: Option<String>,
    host_key: Option<PathBuf>,
}

/// Runs a program to completion and panics with its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Panics unless the tests run as root with the test users present.
pub fn require_root_and_users() {
    let uid = run("id", &["-u"]);
    assert_eq!(uid.trim(), "0", "the SSH tests run as root (sshd needs it)");
    for user in [SUDO_USER, PASSWORD_SUDO_USER] {
        let found = Command::new("id")
            .arg(user)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(found, "test user {user} is missing: run scripts/setup");
    }
}

/// Generates an ed25519 key pair at `path` (and `path.pub`).
pub fn keygen(path: &Path) {
    let path = path.to_str().expect("utf-8 temp path");
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "finch-test",
            "-f",
            path,
        ],
    );
}

/// The SHA256 fingerprint of a public key file.
pub fn fingerprint(public_key: &Path) -> String {
    let out = run(
        "ssh-keygen",
        &[
            "-l",
            "-E",
            "sha256",
            "-f",
            public_key.to_str().expect("utf-8"),
        ],
    );
    out.split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .expect("a fingerprint")
        .to_owned()
}

// === impl Client ===

impl Client {
    /// A key pair and an empty known_hosts in a fresh directory.
    pub fn new() -> Self {
        require_root_and_users();
        let dir = tempfile::Builder::new()
            .prefix("finch-ssh-client.")
            .tempdir()
            .expect("temp dir");
        keygen(&dir.path().join("id_ed25519"));
        std::fs::write(dir.path().join("known_hosts"), "").expect("known_hosts");
        Self { dir }
    }

    /// The public key, as `authorized_keys` lists it.
    pub fn public_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("id_ed25519.pub")).expect("public key")
    }

    /// What `known_hosts` holds now.
    pub fn known_hosts(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("known_hosts")).unwrap_or_default()
    }

    /// Writes the ssh config: defaults that keep the user's own files out, then `hosts`
    /// (each a `Host` block's text). Returns its path.
    pub fn config(&self, hosts: &str) -> PathBuf {
        let d = self.dir.path().display();
        let text = format!(
            "{hosts}\nHost *\n  UserKnownHostsFile {d}/known_hosts\n  IdentityFile {d}/id_ed25519\n  IdentitiesOnly yes\n  IdentityAgent none\n  GlobalKnownHostsFile /dev/null\n"
        );
        let path = self.dir.path().join("config");
        std::fs::write(&path, text).expect("ssh config");
        path
    }

    /// A `Host` block for `alias` reaching `sshd` as `user`.
    pub fn host(alias: &str, sshd: &Sshd, user: &str) -> String {
        format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  User {user}\n",
            sshd.port
        )
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

// === impl SshdBuilder ===

impl SshdBuilder {
    /// sshd's `LogLevel` (INFO by default).
    pub fn log_level(mut self, level: &'static str) -> Self {
        self.log_level = Some(level);
        self
    }

    /// `SetEnv PATH=…` for every session.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Use this host key (to make a second server look like the first, or not).
    pub fn host_key(mut self, path: &Path) -> Self {
        self.host_key = Some(path.to_owned());
        self
    }

    /// Starts sshd accepting `client`'s key for every user and waits until it listens.
    pub fn start(self, client: &Client) -> Sshd {
        std::fs::create_dir_all("/run/sshd").expect("sshd's privilege separation directory");
        let mut dir = tempfile::Builder::new()
            .prefix("finch-sshd.")
            .tempdir()
            .expect("temp dir");
        // Non-root users read authorized_keys through this directory.
        set_mode(dir.path(), 0o755);
        let host_key = match &self.host_key {
            Some(key) => key.clone(),
            None => {
                let key = dir.path().join("host_key");
                keygen(&key);
                key
            }
        };
        let keys = dir.path().join("authorized_keys");
        std::fs::write(&keys, client.public_key()).expect("authorized_keys");
        set_mode(&keys, 0o644);
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            let mut text = format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}/sshd.pid\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nMaxStartups 100\nMaxSessions 100\nLogLevel {}\n",
                host_key.display(),
                keys.display(),
                dir.path().display(),
                self.log_level.unwrap_or("INFO"),
            );
            if let Some(path) = &self.path {
                text.push_str(&format!("SetEnv PATH={path}\n"));
            }
            std::fs::write(&config, text).expect("sshd_config");
            let log = dir.path().join("sshd.log");
            let _ = std::fs::remove_file(&log);
            let child = Command::new("/usr/sbin/sshd")
                .arg("-D")
                .arg("-f")
                .arg(&config)
                .arg("-E")
                .arg(&log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("sshd starts (is openssh-server installed? run scripts/setup)");
            let mut sshd = Sshd { dir, port, child };
            if sshd.wait_listening() {
                return sshd;
            }
            let log = sshd.log();
            assert!(
                log.contains("Address already in use"),
                "sshd did not start:\n{log}"
            );
            dir = std::mem::replace(&mut sshd.dir, tempfile::tempdir().expect("temp dir"));
        }
        panic!("sshd found its port taken {PORT_ATTEMPTS} times");
    }
}

// === impl Sshd ===

impl Sshd {
    /// Settings other than the defaults.
    pub fn builder() -> SshdBuilder {
        SshdBuilder::default()
    }

    /// An sshd with defaults.
    pub fn start(client: &Client) -> Self {
        Self::builder().start(client)
    }

    /// What sshd has logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The host key it generated (absent when the builder was given one).
    pub fn host_key(&self) -> PathBuf {
        self.dir.path().join("host_key")
    }

    /// Waits until sshd logs that it listens (true) or exits (false), under [`DEADLINE`].
    fn wait_listening(&mut self) -> bool {
        let start = Instant::now();
        loop {
            if self.log().contains("Server listening on") {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "sshd did not listen within {DEADLINE:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A port nothing listens on at the moment (sshd is retried when another process takes it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// Waits for `condition` under [`DEADLINE`].
pub fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
