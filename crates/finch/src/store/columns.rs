//! How the list and enum columns of `agents` are written and read, the same on every backend.
//!
//! 1.x stored lists as JSON text and wrote `NULL`, `''` and `'[]'` for an empty one (see the
//! reference, section 4.2), so a reader accepts all three; `labels` is `NULL` when empty, as 1.x
//! wrote it. Each backend reads its own column types and hands the text here.

use crate::agents::{LogSource, Node};
use crate::store::error::StoreError;

/// Encodes a list column as a JSON array.
pub(in crate::store) fn encode_list(values: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(values).map_err(|e| StoreError::Database(Box::new(e)))
}

/// The `labels` column: a JSON array, or `NULL` when empty, as 1.x wrote it.
pub(in crate::store) fn labels_column(labels: &[String]) -> Result<Option<String>, StoreError> {
    if labels.is_empty() {
        Ok(None)
    } else {
        encode_list(labels).map(Some)
    }
}

/// The `log_sources` column as Finch stores it.
pub(in crate::store) fn log_sources_column(sources: &[LogSource]) -> Result<String, StoreError> {
    let stored: Vec<String> = sources.iter().map(LogSource::to_stored).collect();
    encode_list(&stored)
}

/// Reads a JSON list column: `NULL`, `''` and `'[]'` are all the empty list.
pub(in crate::store) fn parse_list(
    column: &str,
    value: Option<&str>,
) -> Result<Vec<String>, String> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() || value == "null" {
        return Ok(Vec::new());
    }
    serde_json::from_str(value)
        .map_err(|e| format!("{column} is not a JSON list of strings ({e}): {value:?}"))
}

/// Reads the `log_sources` column.
pub(in crate::store) fn parse_log_sources(value: Option<&str>) -> Result<Vec<LogSource>, String> {
    parse_list("log_sources", value)?
        .iter()
        .map(|stored| LogSource::from_stored(stored).map_err(|e| e.to_string()))
        .collect()
}

/// Reads the `node` column; an empty value is the column default, `unix`.
pub(in crate::store) fn parse_node(value: Option<&str>) -> Result<Node, String> {
    let value = value.map(str::trim).unwrap_or_default();
    match value.to_ascii_lowercase().as_str() {
        "" | "unix" => Ok(Node::Unix),
        "windows" => Ok(Node::Windows),
        _ => Err(format!("node is neither unix nor windows: {value:?}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn empty_list_forms() {
        for value in [None, Some(""), Some(" "), Some("[]"), Some("null")] {
            assert_eq!(parse_list("labels", value), Ok(Vec::new()), "{value:?}");
        }
    }

    #[test]
    fn real_lists() {
        assert_eq!(
            parse_list("labels", Some(r#"["env=prod","edge"]"#)),
            Ok(vec!["env=prod".to_owned(), "edge".to_owned()])
        );
    }

    #[test]
    fn bad_lists_name_the_column() {
        let err = parse_list("metrics_targets", Some("{}")).unwrap_err();
        assert!(
            err.starts_with("metrics_targets is not a JSON list"),
            "{err}"
        );
        assert!(parse_list("labels", Some("[1]")).is_err());
    }

    #[test]
    fn nodes() {
        assert_eq!(parse_node(None), Ok(Node::Unix));
        assert_eq!(parse_node(Some("unix")), Ok(Node::Unix));
        assert_eq!(parse_node(Some("windows")), Ok(Node::Windows));
        assert!(parse_node(Some("plan9")).is_err());
    }

    #[test]
    fn labels_are_null_when_empty() {
        assert_eq!(labels_column(&[]).ok(), Some(None));
        assert_eq!(
            labels_column(&["a".to_owned()]).ok(),
            Some(Some(r#"["a"]"#.to_owned()))
        );
    }
}
