//! The agent model: what Finch knows about each enrolled Grafana Alloy agent.
//!
//! An [`Agent`] is what the store returns, named by its [`AgentRid`]. What a client may ask an
//! agent to be, and its validation into an [`AgentSpec`] (registration) or [`AgentChanges`]
//! (update), comes from the `finch-agent-spec` crate, which `finchctl` shares; it is re-exported
//! here so that the service speaks of `agents::AgentSpec`, `agents::LogSource` and so on.

mod rid;

pub use finch_agent_spec::{
    AgentChanges, AgentSpec, BUILT_IN_LABEL_KEYS, InputError, LabelsInput, LogSource,
    MAX_HOSTNAME_LEN, MAX_LABEL_LEN, MAX_LOG_SOURCE_LEN, MAX_METRICS_TARGET_LEN, Node,
    StoredFormError, input, label_pair, parse_hostname, parse_label, parse_labels,
    parse_log_sources, parse_metrics_target, parse_metrics_targets, target_names_path,
};
pub use rid::{AgentRid, RidError};

use time::OffsetDateTime;

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

/// A Unix agent named `hostname` that ships its journal and nothing else: the plainest
/// registration, for tests about something other than the spec.
#[cfg(test)]
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
