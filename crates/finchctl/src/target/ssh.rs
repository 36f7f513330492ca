//! The SSH target: the user's own OpenSSH client, one multiplexed connection per run.
//!
//! `connect` starts a master (`ssh -f -N -o ControlMaster=yes`) whose control socket lives in
//! a private 0700 directory finchctl creates and removes, so a plan of a hundred steps costs one
//! handshake and one password or passphrase prompt. Each step is a session of that master that
//! finchctl opens on the control socket itself ([`crate::target::mux`]): no `ssh` process per
//! step, and no prompt either, as only the master authenticates. A streamed command is an `ssh`
//! client of the master (`BatchMode=yes`). `~/.ssh/config`, `known_hosts`, ssh-agent,
//! ProxyJump and certificates are ssh's business; finchctl adds `-F` and `-o` as asked.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::target::mux;
use crate::target::run::{IDENTIFY_TIMEOUT, identify};
use crate::target::{Identity, Limits, Outcome, Target, TargetError, TargetSpec};

/// Seconds the master stays up with no step running: covers the gaps between steps, and ends a
/// master that finchctl could not stop (a crash) soon after.
const CONTROL_PERSIST_SECS: u32 = 60;
/// TCP connect timeout passed to ssh unless `--ssh.option ConnectTimeout=…` says otherwise.
const DEFAULT_CONNECT_TIMEOUT_SECS: u32 = 30;

/// `--ssh.host-key-check`: ssh's `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HostKeyCheck {
    /// Record a new host's key in known_hosts; refuse a changed key.
    #[default]
    AcceptNew,
    /// Only connect to hosts already in known_hosts.
    Yes,
    /// Do not check host keys (warns on every run).
    No,
}

/// How finchctl calls `ssh`.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// `--ssh.config`: passed as `-F`.
    pub config: Option<PathBuf>,
    /// `--ssh.option KEY=VALUE`, each passed as `-o`.
    pub options: Vec<String>,
    /// `--ssh.host-key-check`.
    pub host_key_check: HostKeyCheck,
}

/// A host reached through `ssh`.
#[derive(Debug)]
pub struct Ssh {
    spec: TargetSpec,
    options: SshOptions,
    control: Option<tempfile::TempDir>,
}

// === impl HostKeyCheck ===

impl HostKeyCheck {
    fn as_ssh(self) -> &'static str {
        match self {
            HostKeyCheck::AcceptNew => "accept-new",
            HostKeyCheck::Yes => "yes",
            HostKeyCheck::No => "no",
        }
    }
}

// === impl Ssh ===

impl Ssh {
    /// A target for `spec`; nothing connects until [`Target::connect`].
    pub fn new(spec: TargetSpec, options: SshOptions) -> Self {
        Self {
            spec,
            options,
            control: None,
        }
    }

    /// `ssh` with the options every invocation shares. Ours that must hold come first (ssh
    /// keeps the first value it sees), then the user's, then defaults they may override.
    fn command(&self, control_path: &Path) -> Command {
        let mut cmd = Command::new("ssh");
        if let Some(config) = &self.options.config {
            cmd.arg("-F").arg(config);
        }
        cmd.arg("-o")
            .arg(format!("ControlPath={}", control_path.display()))
            .arg("-o")
            .arg(format!(
                "StrictHostKeyChecking={}",
                self.options.host_key_check.as_ssh()
            ));
        for option in &self.options.options {
            cmd.arg("-o").arg(option);
        }
        cmd.arg("-o")
            .arg(format!("ConnectTimeout={DEFAULT_CONNECT_TIMEOUT_SECS}"));
        cmd
    }

    /// `ssh` running `line` on the host as a client of the master, without a terminal, for a
    /// command whose output is read while it runs ([`crate::target::stream`]).
    pub fn session(&self, line: &str) -> Result<Command, TargetError> {
        let control = self.connected()?;
        let mut cmd = self.command(&control);
        cmd.args(["-o", "ControlMaster=no", "-o", "BatchMode=yes", "-T", "--"])
            .arg(self.spec.destination())
            .arg(line);
        Ok(cmd)
    }

    /// The control socket, or the error of a target not connected.
    fn connected(&self) -> Result<PathBuf, TargetError> {
        self.control_path().ok_or_else(|| TargetError::Connect {
            target: self.spec.raw.clone(),
            message: "not connected".to_owned(),
        })
    }

    fn control_path(&self) -> Option<PathBuf> {
        self.control.as_ref().map(|d| d.path().join("control"))
    }

    async fn start_master(&mut self) -> Result<(), TargetError> {
        let io = |context: &str| {
            let context = context.to_owned();
            move |source| TargetError::Io { context, source }
        };
        // tempfile creates the directory with mode 0700.
        let dir = tempfile::Builder::new()
            .prefix("finchctl-ssh.")
            .tempdir()
            .map_err(io("cannot create the ssh control directory"))?;
        let log_path = dir.path().join("master.log");
        let log = std::fs::File::create(&log_path).map_err(io("cannot create the ssh log"))?;
        let control = dir.path().join("control");
        self.control = Some(dir);
        let mut cmd = self.command(&control);
        cmd.args(["-o", "ControlMaster=yes"])
            .arg("-o")
            .arg(format!("ControlPersist={CONTROL_PERSIST_SECS}"))
            .args(["-f", "-N", "--"])
            .arg(self.spec.destination())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        let status = cmd.status().await.map_err(|source| TargetError::Spawn {
            program: "ssh".to_owned(),
            source,
        })?;
        if status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        Err(connect_error(&self.spec.raw, &log))
    }
}

impl Target for Ssh {
    fn name(&self) -> &str {
        &self.spec.raw
    }

    async fn connect(&mut self) -> Result<Identity, TargetError> {
        self.start_master().await?;
        identify(self).await
    }

    async fn exec(
        &self,
        line: &str,
        stdin: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<Outcome, TargetError> {
        let control = self.connected()?;
        mux::exec(&control, line, stdin, limits)
            .await
            .map_err(|source| TargetError::Session {
                target: self.spec.raw.clone(),
                source,
            })
    }

    async fn close(&mut self) {
        let Some(control) = self.control_path() else {
            return;
        };
        // A master that does not answer ends by itself after ControlPersist.
        let _ = tokio::time::timeout(IDENTIFY_TIMEOUT, mux::stop_master(&control)).await;
        // Dropping the TempDir removes the directory and the socket.
        self.control = None;
    }
}

/// Turns what ssh printed when it gave up into an error that says what to do.
fn connect_error(target: &str, log: &str) -> TargetError {
    if log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        let fingerprint = log
            .split_whitespace()
            .find(|w| w.starts_with("SHA256:"))
            .map(|f| format!(": the host now offers {}", f.trim_end_matches('.')))
            .unwrap_or_default();
        let fix = log
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("ssh-keygen ") && l.contains(" -R "))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("ssh-keygen -R {target}"));
        return TargetError::HostKeyChanged {
            target: target.to_owned(),
            fingerprint,
            fix,
        };
    }
    if log.contains("Host key verification failed") {
        return TargetError::HostKeyUnknown {
            target: target.to_owned(),
        };
    }
    let message = log
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("ssh exited with an error and printed nothing")
        .to_owned();
    TargetError::Connect {
        target: target.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_key_names_the_fingerprint_and_the_fix() {
        let log = "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nThe fingerprint for the ED25519 key sent by the remote host is\nSHA256:abc.\nPlease contact your system administrator.\n  remove with:\n  ssh-keygen -f '/h/.ssh/known_hosts' -R '[127.0.0.1]:2222'\nHost key verification failed.\n";
        let err = connect_error("web", log);
        assert_eq!(
            err.to_string(),
            "the host key of web has changed: the host now offers SHA256:abc: refusing to connect, nothing ran"
        );
        assert!(
            err.hint()
                .unwrap_or_default()
                .contains("ssh-keygen -f '/h/.ssh/known_hosts' -R '[127.0.0.1]:2222'")
        );
    }
}
