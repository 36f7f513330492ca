//! One plan on many targets: at most `--run.parallel` at once, each line naming its target, a
//! summary table at the end, and a cancellation token (Ctrl-C) stopping every running step.
//!
//! [`AnyTarget`] picks the implementation for a target string: the recorder for a dry run
//! (which never connects), the local shell for the local names, `ssh` for the rest.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::output::Problem;
use crate::target::report::{Reporter, elapsed};
use crate::target::run::{Interrupted, PlanError, PlanRun, run_plan};
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

/// How one target's run ended.
#[derive(Debug)]
pub struct TargetRun {
    /// The target's name.
    pub target: String,
    /// Its steps, or the error with the steps before it.
    pub result: Result<PlanRun, PlanError>,
    /// Connect to close.
    pub duration: Duration,
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
        let plan = Arc::new(plan.clone());
        let plans = vec![plan; self.targets.len()];
        self.run_each(&plans, reporter).await
    }

    /// Like [`Fleet::run`], with a plan of its own for each target (`plans[i]` for
    /// `targets[i]`): `agent enroll` installs a different config on each host.
    pub async fn run_each(
        &self,
        plans: &[Arc<Plan>],
        reporter: &Reporter,
    ) -> anyhow::Result<Vec<TargetRun>> {
        if plans.len() != self.targets.len() {
            return Err(Problem::failed(format!(
                "{} plans for {} targets",
                plans.len(),
                self.targets.len()
            ))
            .into());
        }
        let limits = Limits {
            timeout: self.timeout,
            cancel: self.cancel.clone(),
        };
        let permits = Arc::new(Semaphore::new(self.parallel.max(1)));
        let mut tasks = JoinSet::new();
        for (index, (spec, plan)) in self.targets.iter().zip(plans).enumerate() {
            let mut target = AnyTarget::open(spec.clone(), self.dry_run, &self.ssh);
            let (permits, plan, limits, reporter) = (
                permits.clone(),
                plan.clone(),
                limits.clone(),
                reporter.clone(),
            );
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let clock = Instant::now();
                let result = if limits.cancel.is_cancelled() {
                    Err(PlanError {
                        steps: Vec::new(),
                        error: Interrupted.into(),
                    })
                } else {
                    run_plan(&mut target, &plan, &limits, &reporter).await
                };
                let run = TargetRun {
                    target: target.name().to_owned(),
                    result,
                    duration: clock.elapsed(),
                };
                (index, run)
            });
        }
        let mut runs: Vec<Option<TargetRun>> = (0..self.targets.len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (index, run) =
                joined.map_err(|e| anyhow::Error::new(e).context("a target's run failed"))?;
            runs[index] = Some(run);
        }
        if limits.cancel.is_cancelled() {
            return Err(Interrupted.into());
        }
        Ok(runs.into_iter().flatten().collect())
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
