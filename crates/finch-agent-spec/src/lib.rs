//! An agent's spec: what an operator or client asks an agent to be, checked field by field.
//!
//! Both the service (`finch`) and the operator CLI (`finchctl`) read agent settings, so the rules
//! live here, where neither has to depend on the other. [`input::AgentInput`] is raw input as a
//! client sends it; [`AgentInput::into_spec`](input::AgentInput::into_spec) turns it into a
//! validated [`AgentSpec`] and [`into_changes`](input::AgentInput::into_changes) into a validated
//! [`AgentChanges`], or an [`InputError`] naming the first bad field and quoting its value.
//! Finch 1.x silently dropped entries it could not parse; here every entry is checked.
//!
//! [`LogSource`] is the one reader of log-source URIs: the input form clients send
//! ([`LogSource::parse`]) and the stored form the service keeps and returns
//! ([`LogSource::from_stored`]), which Finch 1.x must still read (see [`LogSource::to_stored`]).
//! Each field has its module: `hostname`, `node`, `log_source`, `metrics_target`, `labels`.

mod error;
mod field;
mod hostname;
pub mod input;
mod labels;
mod log_source;
mod metrics_target;
mod node;

pub use error::{InputError, MAX_QUOTED_CHARS};
pub use hostname::{MAX_HOSTNAME_LEN, parse_hostname};
pub use input::{AgentInput, LabelsInput};
pub use labels::{BUILT_IN_LABEL_KEYS, MAX_LABEL_LEN, label_pair, parse_label, parse_labels};
pub use log_source::{LogSource, MAX_LOG_SOURCE_LEN, StoredFormError, parse_log_sources};
pub use metrics_target::{
    MAX_METRICS_TARGET_LEN, parse_metrics_target, parse_metrics_targets, target_names_path,
};

/// The operating system family of an agent host; it decides which exporters the config renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Node {
    /// Linux, macOS, FreeBSD: journal, docker and the unix node exporter.
    Unix,
    /// Windows: event logs and the windows exporter.
    Windows,
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
