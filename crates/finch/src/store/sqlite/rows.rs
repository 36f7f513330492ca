//! Reading `agents` rows back into the agent model, tolerating what Finch 1.x left behind.
//!
//! Every column is selected `CAST(… AS TEXT)`: SQLite keeps whatever type a writer used (1.x's
//! GORM stored booleans as integers, an operator may have typed `'true'`), and decoding text
//! then parsing it here is the one way that cannot trip over a value's runtime type. List
//! columns accept `NULL`, `''`, `'[]'` and real JSON arrays, because 1.x wrote all of them (see
//! the reference, section 4.2). A value that cannot be understood makes the row
//! [`StoreError::Corrupt`], except timestamps, which are only display data and read as `None`.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::timestamp;
use crate::agents::{Agent, AgentRid};
use crate::store::columns::{parse_list, parse_log_sources, parse_node};
use crate::store::error::StoreError;
use crate::store::records::{AgentSummary, DirectoryRow};

/// The select list [`agent_from_row`] expects, in order.
pub(super) const AGENT_COLUMNS: &str = "CAST(resource_id AS TEXT), CAST(hostname AS TEXT), \
     CAST(node AS TEXT), CAST(log_sources AS TEXT), CAST(metrics AS TEXT), \
     CAST(metrics_targets AS TEXT), CAST(profiles AS TEXT), CAST(labels AS TEXT), \
     CAST(created_at AS TEXT), CAST(registered_at AS TEXT), CAST(last_seen AS TEXT)";

/// The select list [`directory_row`] expects, in order.
pub(super) const DIRECTORY_COLUMNS: &str =
    "CAST(resource_id AS TEXT), CAST(metrics AS TEXT), CAST(profiles AS TEXT)";

/// Builds an agent from a row selected with [`AGENT_COLUMNS`].
pub(super) fn agent_from_row(row: &SqliteRow) -> Result<Agent, StoreError> {
    let raw_rid = text(row, 0)?.unwrap_or_default();
    let corrupt = |reason: String| StoreError::Corrupt {
        rid: raw_rid.clone(),
        reason,
    };
    let rid = AgentRid::parse(&raw_rid).map_err(|e| corrupt(e.to_string()))?;
    let hostname = text(row, 1)?.ok_or_else(|| corrupt("hostname is NULL".to_owned()))?;
    let node = parse_node(text(row, 2)?.as_deref()).map_err(corrupt)?;
    let log_sources = parse_log_sources(text(row, 3)?.as_deref()).map_err(corrupt)?;
    Ok(Agent {
        hostname,
        node,
        log_sources,
        metrics: parse_bool("metrics", text(row, 4)?.as_deref()).map_err(corrupt)?,
        metrics_targets: parse_list("metrics_targets", text(row, 5)?.as_deref())
            .map_err(corrupt)?,
        profiles: parse_bool("profiles", text(row, 6)?.as_deref()).map_err(corrupt)?,
        labels: parse_list("labels", text(row, 7)?.as_deref()).map_err(corrupt)?,
        created_at: text(row, 8)?.as_deref().and_then(timestamp::parse),
        registered_at: text(row, 9)?.as_deref().and_then(timestamp::parse),
        last_seen: text(row, 10)?.as_deref().and_then(timestamp::parse),
        rid,
    })
}

/// Builds a directory row from a row selected with [`DIRECTORY_COLUMNS`]; `None` for a row
/// without a resource id, which no agent can present and 1.x's lookups could match by accident.
pub(super) fn directory_row(row: &SqliteRow) -> Result<Option<DirectoryRow>, StoreError> {
    let raw_rid = text(row, 0)?.unwrap_or_default();
    if raw_rid.is_empty() {
        return Ok(None);
    }
    let corrupt = |reason: String| StoreError::Corrupt {
        rid: raw_rid.clone(),
        reason,
    };
    let rid = AgentRid::parse(&raw_rid).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(DirectoryRow {
        metrics: parse_bool("metrics", text(row, 1)?.as_deref()).map_err(corrupt)?,
        profiles: parse_bool("profiles", text(row, 2)?.as_deref()).map_err(corrupt)?,
        rid,
    }))
}

/// Builds a summary from `resource_id, hostname`.
pub(super) fn summary_from_row(row: &SqliteRow) -> Result<AgentSummary, StoreError> {
    let raw_rid = text(row, 0)?.unwrap_or_default();
    let corrupt = |reason: String| StoreError::Corrupt {
        rid: raw_rid.clone(),
        reason,
    };
    Ok(AgentSummary {
        rid: AgentRid::parse(&raw_rid).map_err(|e| corrupt(e.to_string()))?,
        hostname: text(row, 1)?.ok_or_else(|| corrupt("hostname is NULL".to_owned()))?,
    })
}

/// Column `index` of `row` as text (the select lists cast every column to text).
fn text(row: &SqliteRow, index: usize) -> Result<Option<String>, StoreError> {
    row.try_get(index)
        .map_err(|e| StoreError::Database(Box::new(e)))
}

/// Reads a boolean column: integers (0 is false), or the words 1.x-era tools may have written.
fn parse_bool(column: &str, value: Option<&str>) -> Result<bool, String> {
    let value = value.map(str::trim).unwrap_or_default();
    match value.to_ascii_lowercase().as_str() {
        "" | "false" | "f" | "no" | "off" => return Ok(false),
        "true" | "t" | "yes" | "on" => return Ok(true),
        _ => {}
    }
    if let Ok(number) = value.parse::<i64>() {
        return Ok(number != 0);
    }
    match value.parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(number != 0.0),
        _ => Err(format!("{column} is not a boolean: {value:?}")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for value in [
            Some("1"),
            Some("true"),
            Some("TRUE"),
            Some("t"),
            Some("1.0"),
        ] {
            assert_eq!(parse_bool("metrics", value), Ok(true), "{value:?}");
        }
        for value in [None, Some(""), Some("0"), Some("false"), Some("0.0")] {
            assert_eq!(parse_bool("metrics", value), Ok(false), "{value:?}");
        }
        assert!(parse_bool("metrics", Some("maybe")).is_err());
    }
}
