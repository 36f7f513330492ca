//! Validation and normalisation of agent input from clients (gRPC, files, the CLI).
//!
//! [`AgentInput`] is what a client sends; [`AgentInput::into_spec`] (registration) and
//! [`AgentInput::into_changes`] (update) turn it into the validated [`AgentSpec`] or
//! [`AgentChanges`], or an [`InputError`]
//! naming the first bad field and quoting its value. Finch 1.x dropped entries it could not parse
//! and kept going; here every entry either survives intact or refuses the whole request, so what
//! the operator typed is what the agent gets. The per-field rules live in the sibling modules
//! `hostname`, `node`, `log_source`, `metrics_target` and `labels`.

use crate::error::InputError;
use crate::hostname::parse_hostname;
use crate::labels::parse_labels;
use crate::log_source::parse_log_sources;
use crate::metrics_target::parse_metrics_targets;
use crate::{AgentChanges, AgentSpec, Node};

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

// === impl AgentInput ===

impl AgentInput {
    /// Validates a registration: every field, with log sources checked against the node.
    ///
    /// ```
    /// use finch_agent_spec::{input::AgentInput, LogSource, Node};
    ///
    /// let spec = AgentInput {
    ///     hostname: " Web-1.example.com ".into(),
    ///     node: "unix".into(),
    ///     log_sources: vec!["journal://".into(), "file:///var/log/nginx/*.log".into()],
    ///     labels: vec!["env=prod".into()],
    ///     ..Default::default()
    /// }
    /// .into_spec()
    /// .unwrap();
    /// assert_eq!(spec.hostname, "web-1.example.com");
    /// assert_eq!(spec.node, Node::Unix);
    /// assert_eq!(spec.log_sources[1], LogSource::File("/var/log/nginx/*.log".into()));
    /// ```
    pub fn into_spec(self) -> Result<AgentSpec, InputError> {
        let hostname = parse_hostname(&self.hostname)?;
        let node: Node = self.node.parse()?;
        let changes = self.into_changes(node)?;
        Ok(AgentSpec {
            hostname,
            node,
            log_sources: changes.log_sources,
            metrics: changes.metrics,
            metrics_targets: changes.metrics_targets,
            profiles: changes.profiles,
            labels: changes.labels,
        })
    }

    /// Validates an update of an agent with node `node`. Hostname and node never change after
    /// registration, so `self.hostname` and `self.node` are ignored.
    ///
    /// ```
    /// use finch_agent_spec::{input::AgentInput, InputError, Node};
    ///
    /// let input = AgentInput { log_sources: vec!["journal://".into()], ..Default::default() };
    /// assert!(input.clone().into_changes(Node::Unix).is_ok());
    /// assert!(matches!(
    ///     input.into_changes(Node::Windows),
    ///     Err(InputError::LogSourceNode { .. })
    /// ));
    /// ```
    pub fn into_changes(self, node: Node) -> Result<AgentChanges, InputError> {
        let log_sources = parse_log_sources(&self.log_sources, node)?;
        let metrics_targets = parse_metrics_targets(&self.metrics_targets)?;
        if !self.metrics && !metrics_targets.is_empty() {
            return Err(InputError::MetricsTargetsNeedMetrics);
        }
        let labels = parse_labels(&self.labels)?;
        Ok(AgentChanges {
            log_sources,
            metrics: self.metrics,
            metrics_targets,
            profiles: self.profiles,
            labels,
        })
    }
}

impl From<AgentSpec> for AgentInput {
    /// The input that validates to `spec` again (log sources in their input form).
    fn from(spec: AgentSpec) -> Self {
        AgentInput {
            hostname: spec.hostname,
            node: spec.node.as_str().to_owned(),
            log_sources: spec.log_sources.iter().map(ToString::to_string).collect(),
            metrics: spec.metrics,
            metrics_targets: spec.metrics_targets,
            profiles: spec.profiles,
            labels: spec.labels,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
