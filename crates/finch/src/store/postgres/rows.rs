//! Reading `agents` rows on PostgreSQL back into the agent model.
//!
//! Columns have real types here (`boolean`, `timestamptz`), so only the JSON list columns and
//! `node` need the tolerant reading every backend shares (`store/columns.rs`). A value that
//! cannot be understood makes the row [`StoreError::Corrupt`].

use sqlx::Row as _;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::agents::{Agent, AgentRid};
use crate::store::columns::{parse_list, parse_log_sources, parse_node};
use crate::store::error::StoreError;
use crate::store::records::{AgentSummary, DirectoryRow};

/// The select list [`agent_from_row`] expects, in order.
pub(super) const AGENT_COLUMNS: &str = "resource_id, hostname, node, log_sources, metrics, \
     metrics_targets, profiles, labels, created_at, registered_at, last_seen";

/// The select list [`directory_row`] expects, in order.
pub(super) const DIRECTORY_COLUMNS: &str = "resource_id, metrics, profiles";

/// Builds an agent from a row selected with [`AGENT_COLUMNS`].
pub(super) fn agent_from_row(row: &PgRow) -> Result<Agent, StoreError> {
    let raw_rid: String = get(row, 0)?;
    let corrupt = |reason: String| StoreError::Corrupt {
        rid: raw_rid.clone(),
        reason,
    };
    let rid = AgentRid::parse(&raw_rid).map_err(|e| corrupt(e.to_string()))?;
    let text = |index: usize| get::<Option<String>>(row, index);
    Ok(Agent {
        hostname: get(row, 1)?,
        node: parse_node(text(2)?.as_deref()).map_err(corrupt)?,
        log_sources: parse_log_sources(text(3)?.as_deref()).map_err(corrupt)?,
        metrics: get(row, 4)?,
        metrics_targets: parse_list("metrics_targets", text(5)?.as_deref()).map_err(corrupt)?,
        profiles: get(row, 6)?,
        labels: parse_list("labels", text(7)?.as_deref()).map_err(corrupt)?,
        created_at: get::<Option<OffsetDateTime>>(row, 8)?,
        registered_at: get::<Option<OffsetDateTime>>(row, 9)?,
        last_seen: get::<Option<OffsetDateTime>>(row, 10)?,
        rid,
    })
}

/// Builds a directory row from a row selected with [`DIRECTORY_COLUMNS`] (of a visible agent).
pub(super) fn directory_row(row: &PgRow) -> Result<DirectoryRow, StoreError> {
    let raw_rid: String = get(row, 0)?;
    Ok(DirectoryRow {
        rid: AgentRid::parse(&raw_rid).map_err(|e| StoreError::Corrupt {
            rid: raw_rid.clone(),
            reason: e.to_string(),
        })?,
        metrics: get(row, 1)?,
        profiles: get(row, 2)?,
    })
}

/// Builds a summary from `resource_id, hostname` (of a visible agent).
pub(super) fn summary_from_row(row: &PgRow) -> Result<AgentSummary, StoreError> {
    let raw_rid: String = get(row, 0)?;
    Ok(AgentSummary {
        rid: AgentRid::parse(&raw_rid).map_err(|e| StoreError::Corrupt {
            rid: raw_rid.clone(),
            reason: e.to_string(),
        })?,
        hostname: get(row, 1)?,
    })
}

/// Column `index` of `row`, decoded as `T`.
fn get<T>(row: &PgRow, index: usize) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(index)
        .map_err(|e| StoreError::Database(Box::new(e)))
}
