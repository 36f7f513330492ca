//! Why agent input was refused: [`InputError`], one variant per rule, and [`excerpt`], which
//! cuts a quoted value to size.
//!
//! Every field parser returns it and [`crate::input`] passes it on; it sits in a module of its own
//! so that no parser has to reach into its caller for it.

use crate::Node;

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

/// The start of `value` for quoting in an error: at most [`MAX_QUOTED_CHARS`] characters, with
/// `…` marking a cut.
pub(crate) fn excerpt(value: &str) -> String {
    match value.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}
