//! [`SystemdHost`]: a real Linux host with systemd as its init, for tests that install agents
//! as systemd services over SSH.
//!
//! The host is the Debian root that `scripts/systemd-root` builds once (outside the clone,
//! cached between runs; `scripts/setup` builds it), booted with `systemd-nspawn -b
//! --ephemeral`: each boot runs on a throw-away copy, so tests share no state. It runs in a
//! network namespace of its own, joined to the test's by a veth pair whose addresses are set
//! from outside (`ip -n`), so the host has a private address and nothing of its network
//! reaches further. The test's [`Client`] key is authorised for `root` and `finch-test-sudo`,
//! and the host key is generated per boot, all bound read-only into the copy, with an sshd
//! drop-in that lets many connections start at once ([`SSHD_CONF`]).
//!
//! The namespace name is the lock: `ip netns add` fails when it exists, so concurrent tests
//! (and test binaries) take distinct slots, each with its own /30 subnet and interface names.
//! Dropping the host stops the container at once (`--kill-signal=SIGKILL`: nothing in it needs
//! a clean shutdown), which removes the copy, then deletes the namespace and with it the veth.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sshd::{Client, DEADLINE, SUDO_USER, keygen, run};

/// How many hosts may run at once on one machine (slots of `10.231.0.0/16`, /30 each).
const SLOTS: u16 = 256;
/// sshd settings of every boot: the fleet tests reach one host as many hosts at once (ssh config
/// aliases), so it must accept more unauthenticated connections at a time than sshd's default
/// `MaxStartups` of 10, beyond which it drops them.
const SSHD_CONF: &str = "MaxStartups 200\n";
/// How long a TCP connect to the host's sshd may take while it boots.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// One booted host; stopped and removed on drop.
pub struct SystemdHost {
    /// The boot's files: host key, authorized_keys and the container's console log.
    pub dir: tempfile::TempDir,
    /// The host's address on the veth pair.
    pub address: Ipv4Addr,
    /// The test's end of the veth pair: the workstation's address as the host sees it.
    pub gateway: Ipv4Addr,
    /// How long the boot took until sshd accepted a connection.
    pub boot_time: Duration,
    netns: String,
    child: Child,
}

/// The output of a command run on the host.
#[derive(Debug)]
pub struct HostOutput {
    /// Its exit code.
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// The Debian root: `FINCH_TEST_SYSTEMD_ROOT`, else the link `scripts/systemd-root` makes in
/// `target/tools/`.
pub fn root() -> PathBuf {
    let path = std::env::var_os("FINCH_TEST_SYSTEMD_ROOT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/systemd-root"),
        PathBuf::from,
    );
    assert!(
        path.join("usr/lib/systemd/systemd").exists(),
        "no systemd root at {}: run scripts/setup (or scripts/systemd-root)",
        path.display()
    );
    path
}

// === impl SystemdHost ===

impl SystemdHost {
    /// Boots a fresh copy of the root and waits until its sshd accepts connections.
    pub fn boot(client: &Client) -> SystemdHost {
        let root = root();
        let dir = tempfile::Builder::new()
            .prefix("finch-systemd-host.")
            .tempdir()
            .expect("temp dir");
        keygen(&dir.path().join("host_key"));
        std::fs::write(dir.path().join("authorized_keys"), client.public_key())
            .expect("authorized_keys");
        std::fs::write(dir.path().join("sshd.conf"), SSHD_CONF).expect("sshd drop-in");
        let (slot, netns) = take_slot();
        let [host_if, peer_if] = [format!("fnh{slot}"), format!("fnc{slot}")];
        let base = 4 * u32::from(slot);
        let gateway = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 231, 0, 1)) + base);
        let address = Ipv4Addr::from(u32::from(gateway) + 1);
        let ip = |args: &[&str]| run("ip", args);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if, "netns", &netns,
        ]);
        ip(&["addr", "add", &format!("{gateway}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{address}/30"),
            "dev",
            &peer_if,
        ]);
        ip(&["-n", &netns, "link", "set", &peer_if, "up"]);
        ip(&["-n", &netns, "link", "set", "lo", "up"]);
        let started = Instant::now();
        let child = nspawn(&root, dir.path(), &netns, slot);
        let mut host = SystemdHost {
            dir,
            address,
            gateway,
            boot_time: Duration::ZERO,
            netns,
            child,
        };
        host.wait_for_sshd(started);
        host.boot_time = started.elapsed();
        host
    }

    /// A `Host` block for the test's ssh config reaching this host as `user`.
    pub fn host_block(&self, alias: &str, user: &str) -> String {
        format!(
            "Host {alias}\n  HostName {}\n  Port 22\n  User {user}\n  StrictHostKeyChecking accept-new\n",
            self.address
        )
    }

    /// Runs a shell command line on the host as root over SSH (for a test's assertions).
    pub fn sh(&self, client: &Client, line: &str) -> HostOutput {
        let config = client.dir.path().join("config");
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&config)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=accept-new",
            ])
            .arg(format!("root@{}", self.address))
            .arg(line)
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs");
        HostOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Like [`SystemdHost::sh`], and panics unless the command succeeds; returns its stdout.
    pub fn check(&self, client: &Client, line: &str) -> String {
        let out = self.sh(client, line);
        assert_eq!(out.code, Some(0), "{line} on the systemd host: {out:#?}");
        out.stdout
    }

    /// The container's console: what systemd printed while booting.
    pub fn console(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default()
    }

    fn wait_for_sshd(&mut self, started: Instant) {
        let sshd = SocketAddr::from((self.address, 22));
        loop {
            if TcpStream::connect_timeout(&sshd, CONNECT_TIMEOUT).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "systemd-nspawn exited with {status} while booting:\n{}",
                    self.console()
                );
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the systemd host's sshd did not answer within {DEADLINE:?}:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SystemdHost {
    fn drop(&mut self) {
        // SIGTERM makes nspawn send its --kill-signal (SIGKILL) to the container and remove the
        // ephemeral copy; a kill would leave the copy behind.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while !matches!(self.child.try_wait(), Ok(Some(_))) {
            if started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// Takes the first free slot by creating its network namespace.
fn take_slot() -> (u16, String) {
    for slot in 0..SLOTS {
        let name = format!("finch-host-{slot}");
        let created = Command::new("ip")
            .args(["netns", "add", &name])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if created {
            return (slot, name);
        }
    }
    panic!("all {SLOTS} systemd host slots are taken (stale `ip netns list` entries?)");
}

/// Starts `systemd-nspawn -b` on an ephemeral copy of `root`, in `netns`.
fn nspawn(root: &Path, dir: &Path, netns: &str, slot: u16) -> Child {
    let console = std::fs::File::create(dir.join("console.log")).expect("console log");
    let bind = |file: &str, at: &str| format!("--bind-ro={}:{at}", dir.join(file).display());
    Command::new("systemd-nspawn")
        // The machine's cgroup v1 layout is not one nspawn can hand a container; a unified
        // hierarchy of its own is.
        .env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
        .args([
            "--quiet",
            "--boot",
            "--ephemeral",
            "--register=no",
            "--keep-unit",
        ])
        .arg("--kill-signal=SIGKILL")
        .arg(format!("--network-namespace-path=/run/netns/{netns}"))
        .arg(format!("--machine=finch-host-{slot}"))
        .arg("--directory")
        .arg(root)
        .arg(bind("authorized_keys", "/root/.ssh/authorized_keys"))
        .arg(bind(
            "authorized_keys",
            &format!("/home/{SUDO_USER}/.ssh/authorized_keys"),
        ))
        .arg(bind("sshd.conf", "/etc/ssh/sshd_config.d/finch-boot.conf"))
        .arg(bind("host_key", "/etc/ssh/ssh_host_ed25519_key"))
        .arg(bind("host_key.pub", "/etc/ssh/ssh_host_ed25519_key.pub"))
        .stdin(Stdio::null())
        .stdout(console.try_clone().expect("console log"))
        .stderr(console)
        .spawn()
        .expect("systemd-nspawn starts (is systemd-container installed? run scripts/setup)")
}
