//! How steps are reported: `--run.format progress|documentation|json|quiet`.
//!
//! `progress` is for people (on a terminal, a live line with a spinner and the elapsed time
//! while a step runs; then one line per finished step, coloured unless `NO_COLOR`); `documentation` prints the exact command lines, stable enough
//! for golden tests; `json` prints one object per step; `quiet` prints nothing. With several
//! targets every line names its target. Commands whose stdout is data of their own (the
//! doctors) send the report to stderr.

use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::target::Outcome;

/// `--run.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RunFormat {
    /// One line per step with its elapsed time.
    #[default]
    Progress,
    /// The exact command of each step, one line each.
    Documentation,
    /// One JSON object per step.
    Json,
    /// Nothing.
    Quiet,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Exit code 0.
    Ok,
    /// A non-zero exit code, or finchctl could not run it.
    Failed,
    /// Stopped by `--run.cmd-timeout`.
    TimedOut,
    /// Stopped by Ctrl-C.
    Cancelled,
    /// Recorded by a dry run, not run.
    Planned,
}

/// What one step did, for the report and for the caller.
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// The target's name.
    pub target: String,
    /// The step's name.
    pub name: String,
    /// The command as documented.
    pub command: String,
    /// How it ended.
    pub status: StepStatus,
    /// When it started.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Its exit code.
    pub exit_code: Option<i32>,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

/// Prints step events in one format.
#[derive(Debug, Clone)]
pub struct Reporter {
    format: RunFormat,
    to_stderr: bool,
    color: bool,
    prefix: bool,
    terminal: bool,
}

/// The live line of a running step on a terminal; cleared when dropped.
#[derive(Debug)]
pub struct Spinner {
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The spinner's frames and how often it redraws.
const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
const TICK: Duration = Duration::from_millis(100);

#[derive(Serialize)]
struct JsonStep<'a> {
    target: &'a str,
    step: &'a str,
    command: &'a str,
    status: StepStatus,
    started_at: String,
    duration_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<&'a str>,
}

// === impl StepStatus ===

impl StepStatus {
    /// The status of an outcome; `failed` overrides a zero exit (a probe that errored).
    pub fn of(outcome: &Outcome, failed: bool) -> Self {
        match (outcome.recorded, outcome.stopped, failed) {
            (true, _, _) => StepStatus::Planned,
            (_, Some(crate::target::Stop::TimedOut), _) => StepStatus::TimedOut,
            (_, Some(crate::target::Stop::Cancelled), _) => StepStatus::Cancelled,
            (_, None, true) => StepStatus::Failed,
            (_, None, false) => StepStatus::Ok,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            StepStatus::Ok => "Done",
            StepStatus::Failed => "Failed",
            StepStatus::TimedOut => "Timed out",
            StepStatus::Cancelled => "Stopped",
            StepStatus::Planned => "Planned",
        }
    }
}

// === impl Reporter ===

impl Reporter {
    /// A reporter; `to_stderr` when stdout carries the command's own data, `prefix` when
    /// several targets run at once, `no_color` from `NO_COLOR`.
    pub fn new(format: RunFormat, to_stderr: bool, prefix: bool, no_color: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self {
            format,
            to_stderr,
            color: terminal && !no_color,
            prefix,
            terminal,
        }
    }

    /// A step started: in the progress format on a terminal, with one target, a line with a
    /// spinner and the elapsed time is redrawn until the returned [`Spinner`] is dropped.
    pub fn started(&self, step: &str) -> Spinner {
        if self.format != RunFormat::Progress || !self.terminal || self.prefix {
            return Spinner { task: None };
        }
        let step = step.to_owned();
        let task = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            let mut tick = tokio::time::interval(TICK);
            for frame in FRAMES.iter().cycle() {
                tick.tick().await;
                let line = format!("{frame:>12} {step} ({})", elapsed(start.elapsed()));
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K{line}");
            }
        });
        Spinner { task: Some(task) }
    }

    /// A step ended.
    pub fn finished(&self, record: &StepRecord) {
        let line = match self.format {
            RunFormat::Quiet => return,
            RunFormat::Progress => self.progress_line(record),
            RunFormat::Documentation => documentation_line(record),
            RunFormat::Json => json_line(record),
        };
        let to_stderr = self.to_stderr || self.format == RunFormat::Progress;
        if to_stderr {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }

    /// A line of its own (a summary, a warning) in the progress format's place, on stderr.
    pub fn note(&self, line: &str) {
        if self.format != RunFormat::Quiet {
            eprintln!("{line}");
        }
    }

    fn progress_line(&self, r: &StepRecord) -> String {
        let verb = format!("{:>12}", r.status.verb());
        let verb = match (self.color, r.status) {
            (false, _) => verb,
            (true, StepStatus::Ok | StepStatus::Planned) => format!("\x1b[1;32m{verb}\x1b[0m"),
            (true, _) => format!("\x1b[1;31m{verb}\x1b[0m"),
        };
        let prefix = if self.prefix {
            format!("[{}] ", r.target)
        } else {
            String::new()
        };
        format!("{verb} {prefix}{} ({})", r.name, elapsed(r.duration))
    }
}

// === impl Spinner ===

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}

/// `[target] step: command`, the same on every run.
fn documentation_line(r: &StepRecord) -> String {
    format!("[{}] {}: {}", r.target, r.name, r.command)
}

fn json_line(r: &StepRecord) -> String {
    let failed = !matches!(r.status, StepStatus::Ok | StepStatus::Planned);
    let started_at = OffsetDateTime::from(r.started_at)
        .format(&Rfc3339)
        .unwrap_or_default();
    let step = JsonStep {
        target: &r.target,
        step: &r.name,
        command: &r.command,
        status: r.status,
        started_at,
        duration_ms: r.duration.as_millis(),
        exit_code: r.exit_code,
        stdout: failed.then_some(r.stdout.as_str()),
        stderr: failed.then_some(r.stderr.as_str()),
    };
    serde_json::to_string(&step).unwrap_or_default()
}

/// `0.4s`, `12.0s`, `3m05s`.
pub fn elapsed(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}
