//! One plan on many targets: at most `--run.parallel` at once, each line naming its target, a
//! summary table at the end, and a cancellation token (Ctrl-C) stopping every running step.
//!
//! [`AnyTarget`] picks the implementation for a target string: the recorder for a dry run
//! (which never connects), the local shell for the local names, `ssh` for the rest.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use crate::output::Problem;
use crate::target::report::{Reporter, elapsed};
use crate::target::run::{Interrupted, PlanError, PlanRun, open, run_connected};
use crate::target::{
    CancellationToken, DryRun, Identity, Limits, Local, Outcome, Plan, Ssh, SshOptions, Target,
    TargetError, TargetSpec,
};

/// `--run.parallel`'s default: enough to keep a small fleet moving without a burst of
/// handshakes that trips sshd's `MaxStartups` (10 by default) on a shared bastion.
pub const DEFAULT_PARALLEL: usize = 8;

/// Any of the three targets, chosen at run time.
#[derive(Debug)]
pub enum AnyTarget {
    /// The local shell.
    Local(Local),
    /// OpenSSH.
    Ssh(Ssh),
    /// The dry-run recorder.
    DryRun(DryRun),
}

/// Where and how a fleet run goes.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The targets, in the order given.
    pub targets: Vec<TargetSpec>,
    /// `--run.dry-run`.
    pub dry_run: bool,
    /// The `--ssh.*` flags.
    pub ssh: SshOptions,
    /// `--run.parallel`.
    pub parallel: usize,
    /// `--run.cmd-timeout`.
    pub timeout: Duration,
    /// Ctrl-C: stops every running step.
    pub cancel: CancellationToken,
}

/// How one target's run ended: `R` is what its work returned.
#[derive(Debug)]
pub struct SessionRun<R> {
    /// The target's name.
    pub target: String,
    /// What the work returned, or the error with the steps before it.
    pub result: Result<R, PlanError>,
    /// Connect to close.
    pub duration: Duration,
}

/// How one target's run of one plan ended.
pub type TargetRun = SessionRun<PlanRun>;

/// One target, connected, for the work of [`Fleet::each_session`].
#[derive(Debug)]
pub struct Session {
    target: AnyTarget,
    identity: Identity,
    limits: Limits,
    reporter: Reporter,
}

// === impl AnyTarget ===

impl AnyTarget {
    /// The target for `spec`.
    pub fn open(spec: TargetSpec, dry_run: bool, ssh: &SshOptions) -> Self {
        if dry_run {
            AnyTarget::DryRun(DryRun::new(spec))
        } else if spec.is_local() {
            AnyTarget::Local(Local::new(spec.raw))
        } else {
            AnyTarget::Ssh(Ssh::new(spec, ssh.clone()))
        }
    }
}

impl AnyTarget {
    /// The local process that runs `line` on the target, for a command that streams its
    /// output ([`crate::target::stream`]); a dry run has none.
    pub fn session(&self, line: &str) -> Result<Option<tokio::process::Command>, TargetError> {
        match self {
            AnyTarget::Local(_) => Ok(Some(Local::session(line))),
            AnyTarget::Ssh(t) => t.session(line).map(Some),
            AnyTarget::DryRun(_) => Ok(None),
        }
    }
}

impl Target for AnyTarget {
    fn name(&self) -> &str {
        match self {
            AnyTarget::Local(t) => t.name(),
            AnyTarget::Ssh(t) => t.name(),
            AnyTarget::DryRun(t) => t.name(),
        }
    }

    async fn connect(&mut self) -> Result<Identity, TargetError> {
        match self {
            AnyTarget::Local(t) => t.connect().await,
            AnyTarget::Ssh(t) => t.connect().await,
            AnyTarget::DryRun(t) => t.connect().await,
        }
    }

    async fn exec(
        &self,
        line: &str,
        stdin: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<Outcome, TargetError> {
        match self {
            AnyTarget::Local(t) => t.exec(line, stdin, limits).await,
            AnyTarget::Ssh(t) => t.exec(line, stdin, limits).await,
            AnyTarget::DryRun(t) => t.exec(line, stdin, limits).await,
        }
    }

    async fn close(&mut self) {
        match self {
            AnyTarget::Local(t) => t.close().await,
            AnyTarget::Ssh(t) => t.close().await,
            AnyTarget::DryRun(t) => t.close().await,
        }
    }
}

// === impl Fleet ===

impl Fleet {
    /// Runs `plan` on every target and returns each one's run, in the targets' order. When
    /// the fleet's token is cancelled (Ctrl-C), every running step stops and the result is
    /// [`Interrupted`].
    pub async fn run(&self, plan: &Plan, reporter: &Reporter) -> anyhow::Result<Vec<TargetRun>> {
        self.each_session(reporter, async |_, session: &Session| {
            session.run(plan).await
        })
        .await
    }

    /// Connects to every target (at most `--run.parallel` at once) and runs `work` on each
    /// connection, with the target's index: one host's work can run several plans, and talk to
    /// the service between them, over one SSH connection, while the other hosts go on at their
    /// own pace. Results come back in the targets' order; a target that could not be reached
    /// gets its connection error. Ctrl-C as in [`Fleet::run`].
    pub async fn each_session<R>(
        &self,
        reporter: &Reporter,
        work: impl AsyncFn(usize, &Session) -> Result<R, PlanError>,
    ) -> anyhow::Result<Vec<SessionRun<R>>> {
        let limits = Limits {
            timeout: self.timeout,
            cancel: self.cancel.clone(),
        };
        let work = &work;
        let (limits, reporter) = (&limits, reporter);
        let runs = self
            .targets
            .iter()
            .enumerate()
            .map(|(index, spec)| async move {
                let mut target = AnyTarget::open(spec.clone(), self.dry_run, &self.ssh);
                let clock = Instant::now();
                let opened = if limits.cancel.is_cancelled() {
                    Err(PlanError {
                        steps: Vec::new(),
                        error: Interrupted.into(),
                    })
                } else {
                    open(&mut target, limits).await
                };
                let result = match opened {
                    Ok(identity) => {
                        let session = Session {
                            target,
                            identity,
                            limits: limits.clone(),
                            reporter: reporter.clone(),
                        };
                        let result = work(index, &session).await;
                        target = session.target;
                        target.close().await;
                        result
                    }
                    Err(error) => Err(error),
                };
                (
                    index,
                    SessionRun {
                        target: spec.raw.clone(),
                        result,
                        duration: clock.elapsed(),
                    },
                )
            });
        let mut done: Vec<(usize, SessionRun<R>)> = futures_util::stream::iter(runs)
            .buffer_unordered(self.parallel.max(1))
            .collect()
            .await;
        if limits.cancel.is_cancelled() {
            return Err(Interrupted.into());
        }
        done.sort_by_key(|(index, _)| *index);
        Ok(done.into_iter().map(|(_, run)| run).collect())
    }
}

// === impl Session ===

impl Session {
    /// The target's name, as given.
    pub fn name(&self) -> &str {
        self.target.name()
    }

    /// Whether this is a dry run's recorder (it connects to nothing and runs nothing).
    pub fn is_dry_run(&self) -> bool {
        matches!(self.target, AnyTarget::DryRun(_))
    }

    /// Runs `plan`'s steps on this connection, stopping at the first failure.
    pub async fn run(&self, plan: &Plan) -> Result<PlanRun, PlanError> {
        run_connected(
            &self.target,
            &self.identity,
            plan,
            &self.limits,
            &self.reporter,
        )
        .await
    }
}

/// The summary table printed after a run on several targets.
pub fn summary(runs: &[TargetRun]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|run| {
            let (status, steps, error) = match &run.result {
                Ok(r) => ("ok", r.steps.len(), String::new()),
                Err(e) => ("failed", e.steps.len(), format!("{:#}", e.error)),
            };
            vec![
                run.target.clone(),
                status.to_owned(),
                steps.to_string(),
                elapsed(run.duration),
                error,
            ]
        })
        .collect();
    crate::output::table(Some(&["TARGET", "STATUS", "STEPS", "TIME", "ERROR"]), &rows)
}

/// Splits runs into the successful ones and the error: the only target's own error, or how
/// many targets failed.
pub fn outcome(runs: Vec<TargetRun>) -> (Vec<(String, PlanRun)>, Option<anyhow::Error>) {
    let total = runs.len();
    let mut ok = Vec::with_capacity(total);
    let mut failed = Vec::new();
    for run in runs {
        match run.result {
            Ok(r) => ok.push((run.target, r)),
            Err(e) => failed.push((run.target, e.error)),
        }
    }
    let error = match failed.len() {
        0 => None,
        1 if total == 1 => failed.pop().map(|(_, e)| e),
        n => Some(
            Problem::failed(format!(
                "{n} of {total} targets failed: {}",
                failed
                    .iter()
                    .map(|(t, _)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into(),
        ),
    };
    (ok, error)
}
