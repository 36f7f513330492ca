//! Validation and normalisation of agent input from clients (gRPC, files, the CLI).
//!
//! [`AgentInput`] is what a client sends; [`AgentInput::into_spec`] (registration) and
//! [`AgentInput::into_changes`] (update) turn it into the validated model or an [`InputError`]
//! naming the first bad field and quoting its value. Finch 1.x dropped entries it could not parse
//! and kept going; here every entry either survives intact or refuses the whole request, so what
//! the operator typed is what the agent gets. The per-field rules live in the sibling modules
//! `hostname`, `node`, `log_source`, `metrics_target` and `labels`.

use super::hostname::parse_hostname;
use super::labels::parse_labels;
use super::log_source::parse_log_sources;
use super::metrics_target::parse_metrics_targets;
use super::{AgentChanges, AgentSpec, Node};

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

/// Why agent input was refused. Each variant names the field and quotes the bad value; quoted
/// values are cut to [`MAX_QUOTED_CHARS`] characters so that a huge entry cannot make a huge error.
///
/// The texts of [`InputError::HostnameRequired`] and [`InputError::NodeRequired`] are Finch 1.x's,
/// which its gRPC clients may match on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The host name is missing or blank.
    #[error("hostname is required")]
    HostnameRequired,
    /// The host name has characters outside `[A-Za-z0-9._-]`, starts with a symbol or is too long.
    #[error(
        "hostname {0:?} is not valid: use 1 to 253 letters, digits, '.', '_' or '-', starting with a letter or digit"
    )]
    HostnameInvalid(String),
    /// The node is missing or blank.
    #[error("node must be either 'windows' or 'unix'")]
    NodeRequired,
    /// The node is neither `unix` nor `windows`.
    #[error("node {0:?} is not valid: node must be either 'windows' or 'unix'")]
    NodeInvalid(String),
    /// No log source was given.
    #[error("at least one log source is required")]
    LogSourcesRequired,
    /// A log source has no scheme, or a form its scheme does not take (`journal://x`, `file:/x`).
    #[error(
        "log source {0:?} is not valid: use journal://, docker://, file://<path> or event://<channel>"
    )]
    LogSourceInvalid(String),
    /// A log source has a scheme other than journal, docker, file and event.
    #[error(
        "log source {entry:?} has an unsupported scheme {scheme:?}: use journal://, docker://, file://<path> or event://<channel>"
    )]
    LogSourceScheme {
        /// The log source as given.
        entry: String,
        /// Its scheme as given.
        scheme: String,
    },
    /// A `file://` log source with nothing after the scheme.
    #[error(
        "log source {0:?} names no file: use file://<absolute path>, e.g. file:///var/log/*.log"
    )]
    FilePathRequired(String),
    /// A `file://` log source whose path is neither `/...` nor a drive path like `C:\...`.
    #[error(
        "log source {0:?} has a relative path: use an absolute path such as /var/log/*.log or C:\\logs\\*.log"
    )]
    FilePathRelative(String),
    /// An `event://` log source with nothing after the scheme.
    #[error("log source {0:?} names no channel: use event://<channel>, e.g. event://System")]
    EventChannelRequired(String),
    /// A log source the agent's node cannot read (journal on Windows, event logs on unix).
    #[error("log source {entry:?} cannot be used on a {node} node: it needs a {needs} node")]
    LogSourceNode {
        /// The log source as given.
        entry: String,
        /// The agent's node.
        node: Node,
        /// The node the source needs.
        needs: Node,
    },
    /// A metrics target the `url` crate cannot parse.
    #[error("metrics target {target:?} is not a valid URL: {reason}")]
    MetricsTargetInvalid {
        /// The target as given (any password replaced by `***`).
        target: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A metrics target whose scheme is not http or https.
    #[error(
        "metrics target {target:?} has an unsupported scheme {scheme:?}: use http:// or https://"
    )]
    MetricsTargetScheme {
        /// The target as given (any password replaced by `***`).
        target: String,
        /// Its scheme, lower-cased by the parser.
        scheme: String,
    },
    /// A metrics target without a host.
    #[error("metrics target {0:?} has no host: use http://<host>[:<port>][/<path>]")]
    MetricsTargetHost(String),
    /// Metrics targets were given but metrics are off, so nothing would scrape them.
    #[error("metrics targets need metrics enabled")]
    MetricsTargetsNeedMetrics,
    /// A label key that is not a Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`), or is empty.
    #[error(
        "label {0:?} has an invalid key: use a letter or '_' followed by letters, digits or '_'"
    )]
    LabelKeyInvalid(String),
    /// A label key starting with `__`, which Prometheus reserves for internal labels.
    #[error(
        "label {label:?} uses the reserved key {key:?}: keys starting with \"__\" are reserved"
    )]
    LabelKeyReserved {
        /// The label as given.
        label: String,
        /// Its trimmed key.
        key: String,
    },
    /// A label key that Finch sets itself on everything an agent sends (`host`, `rid`).
    #[error("label {label:?} uses the key {key:?}, which finch sets itself: choose another key")]
    LabelKeyBuiltIn {
        /// The label as given.
        label: String,
        /// Its trimmed key.
        key: String,
    },
    /// A label value with a control character other than tab.
    #[error("label {0:?} has a control character in its value: only tab is allowed")]
    LabelValueInvalid(String),
    /// Two labels with the same key.
    #[error("label key {0:?} is given more than once: give each key once")]
    LabelKeyDuplicate(String),
    /// An entry with a control character (newline, NUL, ...) where none is allowed.
    #[error("{field} {value:?} contains a control character: remove it")]
    ControlCharacter {
        /// The field: `log source` or `metrics target`.
        field: &'static str,
        /// The entry as given.
        value: String,
    },
    /// An entry longer than its field allows.
    #[error("{field} {value:?} is too long: use at most {max} bytes")]
    TooLong {
        /// The field: `log source`, `metrics target` or `label`.
        field: &'static str,
        /// The start of the entry.
        value: String,
        /// The limit in bytes.
        max: usize,
    },
}

/// How many characters of a bad value an error quotes.
pub const MAX_QUOTED_CHARS: usize = 100;

// === impl AgentInput ===

impl AgentInput {
    /// Validates a registration: every field, with log sources checked against the node.
    ///
    /// ```
    /// use finch::agents::{input::AgentInput, LogSource, Node};
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
    /// use finch::agents::{input::AgentInput, InputError, Node};
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

/// The start of `value` for quoting in an error: at most [`MAX_QUOTED_CHARS`] characters, with
/// `…` marking a cut.
pub(crate) fn excerpt(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
