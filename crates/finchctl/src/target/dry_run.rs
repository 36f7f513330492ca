//! The dry-run recorder: never connects, records each command line and says it succeeded.
//!
//! It assumes the user named in the target (root when that is `root`, another user
//! otherwise, so the plan shows where `sudo -n` would go). Probes therefore "succeed" and
//! return no output: a plan must not branch on a dry run's answers.

use std::sync::Mutex;

use crate::target::{Identity, Limits, Outcome, Target, TargetError, TargetSpec};

/// Records what would run.
#[derive(Debug)]
pub struct DryRun {
    spec: TargetSpec,
    recorded: Mutex<Vec<String>>,
}

// === impl DryRun ===

impl DryRun {
    /// A recorder for `spec`.
    pub fn new(spec: TargetSpec) -> Self {
        Self {
            spec,
            recorded: Mutex::new(Vec::new()),
        }
    }

    /// The command lines recorded so far.
    pub fn recorded(&self) -> Vec<String> {
        self.recorded.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Target for DryRun {
    fn name(&self) -> &str {
        &self.spec.raw
    }

    async fn connect(&mut self) -> Result<Identity, TargetError> {
        Ok(Identity {
            user: self.spec.user.clone(),
            root: self.spec.user.as_deref() == Some("root"),
        })
    }

    async fn exec(
        &self,
        line: &str,
        _stdin: Option<&[u8]>,
        _limits: &Limits,
    ) -> Result<Outcome, TargetError> {
        if let Ok(mut recorded) = self.recorded.lock() {
            recorded.push(line.to_owned());
        }
        Ok(Outcome {
            recorded: true,
            ..Outcome::default()
        })
    }

    async fn close(&mut self) {}
}
