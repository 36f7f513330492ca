//! Where finchctl runs things: the local shell, a host over OpenSSH, or a dry-run recorder.
//!
//! A command builds a [`Plan`] of named steps; [`run::run_plan`] runs it on any [`Target`] and
//! reports each step in the `--run.format` asked for. The plan code cannot tell the targets
//! apart: each takes one shell command line at a time ([`Target::exec`]) and says how it ended.
//! SSH goes through the user's own `ssh` client, so `~/.ssh/config`, `known_hosts`, ssh-agent
//! and prompts behave as in their terminal ([`ssh`]). [`fleet`] runs one plan on many targets
//! with a bound on concurrency; [`facts`] is the transport part of the doctor commands.

pub mod dry_run;
pub mod facts;
pub mod fleet;
pub mod local;
mod mux;
pub mod plan;
mod process;
pub mod quote;
pub mod report;
pub mod run;
pub mod spec;
pub mod ssh;
pub mod stream;

use std::future::Future;
use std::time::Duration;

pub use dry_run::DryRun;
pub use local::Local;
pub use mux::MuxError;
pub use plan::{Action, Plan, Step, Upload};
pub use spec::TargetSpec;
pub use ssh::{HostKeyCheck, Ssh, SshOptions};
/// The token that stops running steps (Ctrl-C), re-exported for plan code and tests.
pub use tokio_util::sync::CancellationToken;

/// A host that runs shell command lines: the plan code's only view of where it runs.
pub trait Target: Send + Sync {
    /// The name shown in output (the target as the user wrote it).
    fn name(&self) -> &str;

    /// Connects (or checks that the host is usable) and says who runs the commands there.
    fn connect(&mut self) -> impl Future<Output = Result<Identity, TargetError>> + Send;

    /// Runs one command line in the host's POSIX shell, feeding `stdin` when given (an open,
    /// empty stdin otherwise). When `limits` time out or are cancelled, stdin is closed (which
    /// ends the step on the host, see [`run`]) and the local process is killed after a grace.
    fn exec(
        &self,
        line: &str,
        stdin: Option<&[u8]>,
        limits: &Limits,
    ) -> impl Future<Output = Result<Outcome, TargetError>> + Send;

    /// Closes the connection and removes what connecting created.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}

/// Who the commands run as on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name, when known (a dry run knows it only from the target).
    pub user: Option<String>,
    /// Whether the user is root: then no step runs under sudo.
    pub root: bool,
}

/// The bounds of one step.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `--run.cmd-timeout`.
    pub timeout: Duration,
    /// Ctrl-C, or another target's failure when the plan stops everywhere.
    pub cancel: CancellationToken,
}

/// How a command line ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The exit code; none when a signal ended it or nothing ran.
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
    /// Why finchctl stopped it, if it did.
    pub stopped: Option<Stop>,
    /// Whether the line was only recorded (dry run).
    pub recorded: bool,
}

/// Why a step was stopped before it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `--run.cmd-timeout` passed.
    TimedOut,
    /// Ctrl-C.
    Cancelled,
}

/// What can go wrong on a target before a step's own exit code says anything.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target string is not `[user@]host[:port]`.
    #[error("invalid target {target:?}: {reason}")]
    Invalid {
        /// The target as given.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// A local program (`sh`, `ssh`) could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The host's key differs from the one in known_hosts.
    #[error("the host key of {target} has changed{fingerprint}: refusing to connect, nothing ran")]
    HostKeyChanged {
        /// The target.
        target: String,
        /// `: the host now offers SHA256:…`, when ssh printed it.
        fingerprint: String,
        /// The `ssh-keygen -R` command that forgets the old key.
        fix: String,
    },
    /// The host is not in known_hosts and `--ssh.host-key-check=yes`.
    #[error("the host key of {target} is not known and --ssh.host-key-check=yes: nothing ran")]
    HostKeyUnknown {
        /// The target.
        target: String,
    },
    /// ssh could not connect or authenticate.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// The target.
        target: String,
        /// ssh's own words.
        message: String,
    },
    /// A step's session on the SSH master failed before it could report its end.
    #[error("ssh session on {target} failed: {source}")]
    Session {
        /// The target.
        target: String,
        /// What the session or the master said.
        source: MuxError,
    },
    /// Local I/O (temp dir, pipes).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

// === impl Outcome ===

impl Outcome {
    /// Whether the command ran to a zero exit code (or was recorded).
    pub fn success(&self) -> bool {
        self.recorded || (self.stopped.is_none() && self.code == Some(0))
    }
}

// === impl TargetError ===

impl TargetError {
    /// The command that fixes it, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            TargetError::HostKeyChanged { fix, .. } => Some(format!(
                "if the host was reinstalled or its key rotated on purpose, forget the old key with `{fix}` and run again"
            )),
            TargetError::HostKeyUnknown { .. } => Some(
                "connect once with `ssh` and check the fingerprint, or use --ssh.host-key-check=accept-new"
                    .to_owned(),
            ),
            TargetError::Connect { .. } => Some(
                "check that `ssh` with the same target and options works from this shell".to_owned(),
            ),
            _ => None,
        }
    }
}
