//! Runs a [`Plan`] on one [`Target`]: connect, each step in order, report, stop at the first
//! failure.
//!
//! Each command runs on the host under a small POSIX wrapper ([`WRAPPER`]): the step runs
//! under `timeout` (when the host has it) with `--run.cmd-timeout`, and a watcher kills it as
//! soon as the step's stdin closes. finchctl closes that stdin on timeout and on Ctrl-C, and
//! the SSH channel closes it when the connection drops, so a stopped step never lingers on
//! the host. Uploads read their stdin as data and end when it closes (their length check
//! then fails and the old file stays).

use std::time::{Duration, Instant, SystemTime};

use crate::output::Problem;
use crate::target::report::{Reporter, StepRecord, StepStatus};
use crate::target::{Action, Identity, Limits, Outcome, Plan, Stop, Target, TargetError, quote};

/// The deadline of the one-line probe that asks who we are on the host.
pub const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// `sh -c WRAPPER finchctl <step> <seconds>`: runs `$1` with stdin from /dev/null under
/// `timeout` (TERM, then KILL 5 s later, to the step's whole process group) and kills it when
/// the wrapper's own stdin reaches end of file. (The watcher reads stdin through fd 3: a
/// background job's own stdin is /dev/null in a shell without job control.)
pub const WRAPPER: &str = r#"exec 3<&0
if command -v timeout >/dev/null 2>&1; then
timeout -k 5 "$2" sh -c "$1" </dev/null 3<&- &
else
sh -c "$1" </dev/null 3<&- &
fi
p=$!
{ cat <&3 >/dev/null; kill -TERM "$p"; } >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$p"
s=$?
kill "$w" 2>/dev/null
exit "$s""#;

/// The probe run on connect: uid, then user name.
const IDENTIFY: &str = "id -u && id -un";

/// The result of running a plan on one target.
#[derive(Debug)]
pub struct PlanRun {
    /// Each step that ran (or was recorded), in order.
    pub steps: Vec<StepRecord>,
    /// Who ran them.
    pub identity: Option<Identity>,
}

/// How a plan run failed: the error, plus the steps that ran before it.
#[derive(Debug)]
pub struct PlanError {
    /// The steps up to and including the failed one.
    pub steps: Vec<StepRecord>,
    /// What went wrong, with the host and step named.
    pub error: anyhow::Error,
}

/// The command line that runs `step_line` under the wrapper.
pub fn wrapped(step_line: &str, timeout: Duration) -> String {
    quote::join([
        "sh",
        "-c",
        WRAPPER,
        crate::target::plan::SCRIPT_NAME,
        step_line,
        &timeout.as_secs().max(1).to_string(),
    ])
}

/// Asks the host who runs the commands (within [`IDENTIFY_TIMEOUT`]).
pub async fn identify<T: Target + ?Sized>(target: &T) -> Result<Identity, TargetError> {
    let limits = Limits {
        timeout: IDENTIFY_TIMEOUT,
        cancel: crate::target::CancellationToken::new(),
    };
    let out = target.exec(IDENTIFY, None, &limits).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    match (out.success(), lines.next().map(str::trim), lines.next()) {
        (true, Some(uid), Some(user)) => Ok(Identity {
            user: Some(user.trim().to_owned()),
            root: uid == "0",
        }),
        _ => Err(TargetError::Connect {
            target: target.name().to_owned(),
            message: format!(
                "`{IDENTIFY}` failed: {}",
                tail(&out.stderr).unwrap_or_else(|| "no output".to_owned())
            ),
        }),
    }
}

/// Connects, runs every step, closes. The first failing step ends the plan with an error
/// that names the host, the step, the exit code and the tail of the step's stderr.
pub async fn run_plan<T: Target>(
    target: &mut T,
    plan: &Plan,
    limits: &Limits,
    reporter: &Reporter,
) -> Result<PlanRun, PlanError> {
    let identity = open(target, limits).await?;
    let result = run_connected(&*target, &identity, plan, limits, reporter).await;
    target.close().await;
    result
}

/// Connects `target` and asks who runs the commands; Ctrl-C stops the attempt. A target that
/// could not be reached is closed again, and its error carries ssh's hint.
pub async fn open<T: Target>(target: &mut T, limits: &Limits) -> Result<Identity, PlanError> {
    let connected = tokio::select! {
        connected = target.connect() => connected,
        () = limits.cancel.cancelled() => {
            target.close().await;
            return Err(PlanError { steps: Vec::new(), error: Interrupted.into() });
        }
    };
    match connected {
        Ok(identity) => Ok(identity),
        Err(err) => {
            let mut problem = Problem::failed(format!("{err:#}"));
            problem.hint = err.hint();
            target.close().await;
            Err(PlanError {
                steps: Vec::new(),
                error: problem.into(),
            })
        }
    }
}

/// Runs every step of `plan` on a target [`open`] connected, stopping at the first failure.
pub async fn run_connected<T: Target>(
    target: &T,
    identity: &Identity,
    plan: &Plan,
    limits: &Limits,
    reporter: &Reporter,
) -> Result<PlanRun, PlanError> {
    let steps = run_steps(target, identity, plan, limits, reporter).await?;
    Ok(PlanRun {
        steps,
        identity: Some(identity.clone()),
    })
}

async fn run_steps<T: Target>(
    target: &T,
    identity: &Identity,
    plan: &Plan,
    limits: &Limits,
    reporter: &Reporter,
) -> Result<Vec<StepRecord>, PlanError> {
    let mut records = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let command = step.describe(identity.root);
        let line = match step.action {
            Action::Upload(_) => step.command_line(identity.root),
            _ => wrapped(&step.command_line(identity.root), limits.timeout),
        };
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let spinner = reporter.started(&step.name);
        let outcome = target.exec(&line, step.stdin(), limits).await;
        drop(spinner);
        let duration = clock.elapsed();
        let (outcome, error) = match outcome {
            Ok(outcome) => {
                let error = step_error(target.name(), &step.name, identity, &outcome);
                (outcome, error)
            }
            Err(err) => (Outcome::default(), Some(anyhow::Error::new(err))),
        };
        let record = StepRecord {
            target: target.name().to_owned(),
            name: step.name.clone(),
            command,
            status: StepStatus::of(&outcome, error.is_some()),
            started_at,
            duration,
            exit_code: outcome.code,
            stdout: String::from_utf8_lossy(&outcome.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&outcome.stderr).into_owned(),
        };
        reporter.finished(&record);
        records.push(record);
        if let Some(error) = error {
            return Err(PlanError {
                steps: records,
                error,
            });
        }
    }
    Ok(records)
}

/// The error of a step that did not succeed, or none.
fn step_error(
    host: &str,
    step: &str,
    identity: &Identity,
    outcome: &Outcome,
) -> Option<anyhow::Error> {
    if outcome.success() {
        return None;
    }
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    let user = identity.user.as_deref().unwrap_or("the user");
    let problem = match outcome.stopped {
        Some(Stop::TimedOut) => Problem::failed(format!(
            "step {step:?} on {host} did not finish within --run.cmd-timeout and was stopped"
        ))
        .hint("raise --run.cmd-timeout (seconds) if the step needs longer"),
        Some(Stop::Cancelled) => return Some(Interrupted.into()),
        None if stderr.contains("a password is required") => Problem::failed(format!(
            "step {step:?} on {host} needs root, and sudo asks {user} for a password"
        ))
        .hint(format!(
            "finchctl runs `sudo -n`: allow {user} passwordless sudo (a line `{user} ALL=(ALL) NOPASSWD: ALL` in /etc/sudoers.d/{user}) or connect as root"
        )),
        None if stderr.contains("sudo: not found") || stderr.contains("sudo: command not found") => {
            Problem::failed(format!(
                "step {step:?} on {host} needs root, and sudo is not installed there"
            ))
            .hint("connect as root, or install sudo on the host")
        }
        None => {
            let code = outcome
                .code
                .map_or_else(|| "was killed by a signal".to_owned(), |c| format!("exited with {c}"));
            let detail = tail(&outcome.stderr)
                .or_else(|| tail(&outcome.stdout))
                .map(|t| format!(": {t}"))
                .unwrap_or_default();
            Problem::failed(format!("step {step:?} on {host} {code}{detail}"))
        }
    };
    Some(problem.into())
}

/// The last few non-empty lines of some output, joined, for an error message.
fn tail(bytes: &[u8]) -> Option<String> {
    const LINES: usize = 5;
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(LINES);
    (!lines.is_empty()).then(|| lines[start..].join(" / "))
}

/// Ctrl-C stopped the run: exit 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;
