//! Validation and normalisation of agent input from clients (gRPC, files, the CLI).

use super::{AgentChanges, AgentSpec, LogSource, Node};

/// Agent input as a client sends it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentInput {
    /// Host name.
    pub hostname: String,
    /// `unix` or `windows`.
    pub node: String,
    /// Log source URIs (`journal://`, `docker://`, `file://<path>`, `event://<channel>`).
    pub log_sources: Vec<String>,
    /// Metrics switch.
    pub metrics: bool,
    /// Metrics target URLs.
    pub metrics_targets: Vec<String>,
    /// Profiles switch.
    pub profiles: bool,
    /// Labels, `key=value` or `key`.
    pub labels: LabelsInput,
}

/// Labels as given by a client.
pub type LabelsInput = Vec<String>;

/// Why agent input was refused. Each variant names the field and the bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The host name is missing.
    #[error("hostname is required")]
    HostnameRequired,
}

impl AgentInput {
    /// Validates a registration.
    pub fn into_spec(self) -> Result<AgentSpec, InputError> {
        let _ = (LogSource::Journal, Node::Unix);
        Err(InputError::HostnameRequired)
    }

    /// Validates an update of an agent with node `node` (hostname and node are ignored).
    pub fn into_changes(self, node: Node) -> Result<AgentChanges, InputError> {
        let _ = node;
        Err(InputError::HostnameRequired)
    }
}
