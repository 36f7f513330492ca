//! The local target: this machine's `sh`, for `localhost`, `local`, `127.0.0.1` and `::1`.

use tokio::process::Command;

use crate::target::process::drive;
use crate::target::{Identity, Limits, Outcome, Target, TargetError};

/// Runs steps with `sh -c` on this machine.
#[derive(Debug, Clone)]
pub struct Local {
    name: String,
}

// === impl Local ===

impl Local {
    /// `sh -c line`.
    pub fn session(line: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(line);
        cmd
    }

    /// A local target shown as `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into() }
    }
}

impl Target for Local {
    fn name(&self) -> &str {
        &self.name
    }

    async fn connect(&mut self) -> Result<Identity, TargetError> {
        crate::target::run::identify(self).await
    }

    async fn exec(
        &self,
        line: &str,
        stdin: Option<&[u8]>,
        limits: &Limits,
    ) -> Result<Outcome, TargetError> {
        drive(Local::session(line), "sh", stdin, limits).await
    }

    async fn close(&mut self) {}
}
