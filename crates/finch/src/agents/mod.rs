//! The agent model: what Finch knows about each enrolled Grafana Alloy agent.
//!
//! An [`Agent`] is what the store returns; an [`AgentSpec`] is validated user input for a new
//! agent and an [`AgentChanges`] the validated input of an update. Validation and normalisation
//! live in [`input`]: every entry is checked and an invalid one is an error that names it, unlike
//! Finch 1.x, which silently dropped what it could not parse. The stored forms of log sources
//! stay readable by 1.x (see [`LogSource::to_stored`]).

mod hostname;
pub mod input;
mod labels;
mod log_source;
mod metrics_target;
mod node;
mod rid;

pub use hostname::{MAX_HOSTNAME_LEN, parse_hostname};
pub use input::{InputError, LabelsInput};
pub use labels::{BUILT_IN_LABEL_KEYS, MAX_LABEL_LEN, label_pair, parse_label, parse_labels};
pub use log_source::{LogSource, MAX_LOG_SOURCE_LEN, StoredFormError, parse_log_sources};
pub use metrics_target::{
    MAX_METRICS_TARGET_LEN, parse_metrics_target, parse_metrics_targets, target_names_path,
};
pub use rid::{AgentRid, RidError};

use time::OffsetDateTime;

/// The operating system family of an agent host; it decides which exporters the config renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// Linux, macOS, FreeBSD: journal, docker and the unix node exporter.
    Unix,
    /// Windows: event logs and the windows exporter.
    Windows,
}

/// An enrolled agent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The agent's resource id, `rid:finch:<service id>:agent:<uuid>`.
    pub rid: AgentRid,
    /// The host name the agent reports under (unique across the fleet).
    pub hostname: String,
    /// The node type, fixed at registration.
    pub node: Node,
    /// What the agent reads logs from; never empty for agents registered by Finch.
    pub log_sources: Vec<LogSource>,
    /// Whether the agent pushes metrics to Mimir.
    pub metrics: bool,
    /// Extra Prometheus endpoints the agent scrapes (normalised `http`/`https` URLs).
    pub metrics_targets: Vec<String>,
    /// Whether the agent pushes profiles to Pyroscope.
    pub profiles: bool,
    /// User labels, each `key=value` or a bare `key` (which renders as `key = "true"`).
    pub labels: Vec<String>,
    /// When the row was created (the `created_at` column).
    pub created_at: Option<OffsetDateTime>,
    /// When the agent was registered (the `registered_at` column, filled by the database).
    pub registered_at: Option<OffsetDateTime>,
    /// The last time `/auth` let one of the agent's requests through, if ever.
    pub last_seen: Option<OffsetDateTime>,
}

/// A validated new agent, ready to be stored. Built by [`input::AgentInput::into_spec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// Normalised host name.
    pub hostname: String,
    /// Node type.
    pub node: Node,
    /// At least one log source.
    pub log_sources: Vec<LogSource>,
    /// Metrics switch.
    pub metrics: bool,
    /// Normalised metrics targets.
    pub metrics_targets: Vec<String>,
    /// Profiles switch.
    pub profiles: bool,
    /// Validated labels in their stored form.
    pub labels: Vec<String>,
}

/// A validated full replacement of an agent's mutable fields (hostname and node never change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentChanges {
    /// At least one log source.
    pub log_sources: Vec<LogSource>,
    /// Metrics switch.
    pub metrics: bool,
    /// Normalised metrics targets.
    pub metrics_targets: Vec<String>,
    /// Profiles switch.
    pub profiles: bool,
    /// Validated labels in their stored form.
    pub labels: Vec<String>,
}

// === impl Node ===

impl Node {
    /// The stored and wire form: `unix` or `windows`.
    pub fn as_str(self) -> &'static str {
        match self {
            Node::Unix => "unix",
            Node::Windows => "windows",
        }
    }
}

impl std::fmt::Display for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
impl AgentSpec {
    /// A Unix agent named `hostname` that ships its journal and nothing else: the plainest
    /// registration, for tests about something other than the spec.
    pub(crate) fn journal_only(hostname: &str) -> AgentSpec {
        AgentSpec {
            hostname: hostname.to_owned(),
            node: Node::Unix,
            log_sources: vec![LogSource::Journal],
            metrics: false,
            metrics_targets: Vec::new(),
            profiles: false,
            labels: Vec::new(),
        }
    }
}
