//! User labels: `key=value` or a bare `key`, added to everything an agent sends.
//!
//! Keys must be Prometheus label names, since Loki, Mimir and Pyroscope all refuse others, and may
//! not take the names Prometheus reserves (`__*`) or the ones Finch sets itself (`host`, `rid`):
//! 1.x let those collide with its external labels. Values are free text apart from control
//! characters; the renderer escapes them. A label is stored as given with its key trimmed.

use std::collections::HashSet;

use crate::error::{InputError, excerpt};
use crate::field::Field;

/// Label keys Finch sets itself as external labels of every agent.
pub const BUILT_IN_LABEL_KEYS: [&str; 2] = ["host", "rid"];

/// Longest label accepted, key and value together, in bytes.
pub const MAX_LABEL_LEN: usize = 4096;

/// The bounds of a label, key and value together.
const LABEL: Field = Field {
    name: "label",
    max: MAX_LABEL_LEN,
};

/// Validates labels and returns their stored forms, in the given order.
///
/// ```
/// use finch_agent_spec::parse_labels;
///
/// let labels = parse_labels(&[" env =prod".into(), "canary".into()]).unwrap();
/// assert_eq!(labels, ["env=prod", "canary"]);
/// assert!(parse_labels(&["host=x".into()]).is_err());
/// ```
pub fn parse_labels(labels: &[String]) -> Result<Vec<String>, InputError> {
    let mut keys = HashSet::with_capacity(labels.len());
    let mut stored = Vec::with_capacity(labels.len());
    for label in labels {
        let (key, value) = parse_label(label)?;
        if !keys.insert(key) {
            return Err(InputError::LabelKeyDuplicate(excerpt(key)));
        }
        stored.push(match value {
            Some(value) => format!("{key}={value}"),
            None => key.to_owned(),
        });
    }
    Ok(stored)
}

/// Splits one label into its trimmed key and its value (verbatim; `None` for a bare key) and
/// checks both.
pub fn parse_label(label: &str) -> Result<(&str, Option<&str>), InputError> {
    // Control characters are refused in the value alone, where a tab is allowed (below).
    LABEL.check_len(label, || excerpt(label))?;
    let (key, value) = match label.split_once('=') {
        Some((key, value)) => (key.trim(), Some(value)),
        None => (label.trim(), None),
    };
    if !is_label_name(key) {
        return Err(InputError::LabelKeyInvalid(excerpt(label)));
    }
    if key.starts_with("__") {
        return Err(InputError::LabelKeyReserved {
            label: excerpt(label),
            key: key.to_owned(),
        });
    }
    if BUILT_IN_LABEL_KEYS.contains(&key) {
        return Err(InputError::LabelKeyBuiltIn {
            label: excerpt(label),
            key: key.to_owned(),
        });
    }
    if value.is_some_and(|value| value.chars().any(|c| c.is_control() && c != '\t')) {
        return Err(InputError::LabelValueInvalid(excerpt(label)));
    }
    Ok((key, value))
}

/// The key and value a stored label renders as: a bare `key` means `key = "true"`, as in 1.x.
///
/// ```
/// assert_eq!(finch_agent_spec::label_pair("env=prod"), ("env", "prod"));
/// assert_eq!(finch_agent_spec::label_pair("canary"), ("canary", "true"));
/// ```
pub fn label_pair(stored: &str) -> (&str, &str) {
    stored.split_once('=').unwrap_or((stored, "true"))
}

/// Whether `key` matches `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
