//! A real OpenSSH server for finchctl's target tests, self-contained.
//!
//! [`Sshd`] runs `/usr/sbin/sshd -D -f CONFIG -E LOG` on 127.0.0.1 with its own generated host
//! key, `authorized_keys`, `UsePAM no` and a `PidFile`, all in a temp dir; it is killed on drop.
//! [`Client`] is the test's own `~/.ssh`: a key pair, a `known_hosts` and a config file that
//! finchctl gets with `--ssh.config` (OpenSSH reads `~` from the passwd entry, not `$HOME`, so
//! a test cannot point it elsewhere any other way). Tests run as root (sshd needs it); the
//! non-root users come from scripts/setup.

#![allow(dead_code)]

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

/// The test's SSH client files.
pub struct Client {
    pub dir: tempfile::TempDir,
}

/// One running sshd.
pub struct Sshd {
    pub dir: tempfile::TempDir,
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

    pub fn public_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("id_ed25519.pub")).expect("public key")
    }

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
        let mut attempt = 0;
        loop {
            attempt += 1;
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
            assert!(attempt < 5, "sshd did not start:\n{log}");
            dir = std::mem::replace(&mut sshd.dir, tempfile::tempdir().expect("temp dir"));
        }
    }
}

// === impl Sshd ===

impl Sshd {
    pub fn builder() -> SshdBuilder {
        SshdBuilder::default()
    }

    /// An sshd with defaults.
    pub fn start(client: &Client) -> Self {
        Self::builder().start(client)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn host_key(&self) -> PathBuf {
        self.dir.path().join("host_key")
    }

    /// Waits until sshd logs that it listens, or exits (a taken port).
    fn wait_listening(&mut self) -> bool {
        let start = Instant::now();
        while start.elapsed() < DEADLINE {
            if self.log().contains("Server listening on") {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
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

/// What a finchctl run printed.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the finchctl binary with `args`, a HOME of `home`, under [`DEADLINE`].
pub async fn finchctl(home: &Path, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_finchctl"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .expect("finchctl finished within the deadline")
        .expect("finchctl runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn config_arg(client: &Client) -> String {
    client.dir.path().join("config").display().to_string()
}

/// `finchctl <kind> doctor <args…> --ssh.config <the client's config>`.
pub async fn doctor(client: &Client, home: &Path, kind: &str, args: &[&str]) -> Run {
    let cfg = config_arg(client);
    let mut all = vec![kind, "doctor"];
    all.extend_from_slice(args);
    all.extend(["--ssh.config", cfg.as_str()]);
    finchctl(home, &all).await
}
