//! The dashboard's counters: one aggregate over the visible agents in a scope, read in parts on
//! a large table as a page's first pass is (`parts.rs`), and summed.

use sqlx::{Arguments as _, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use time::macros::format_description;

use super::filter::{Filter, arg_error};
use super::parts::{IdRange, PartRead, Split, read_in_parts};
use crate::store::error::StoreError;
use crate::store::page::{AgentScope, AgentStats};
use crate::store::sqlite::error::map_sqlx;

/// The counters over the rows of a filter, for a read in parts.
struct Counters<'a> {
    filter: &'a Filter,
    /// The earliest `last_seen` of an active agent, as [`sqlite_time`] writes it.
    active_since: &'a str,
}

/// Counts the agents in `scope` on `pool`'s connections (more than one on a large table, as
/// `split` allows); those last seen at or after `active_since` are active.
pub(in crate::store::sqlite) async fn agent_stats(
    pool: &SqlitePool,
    split: Split,
    scope: &AgentScope,
    active_since: OffsetDateTime,
) -> Result<AgentStats, StoreError> {
    let filter = Filter::new(scope, None)?;
    let active_since = sqlite_time(active_since)?;
    let counters = Counters {
        filter: &filter,
        active_since: &active_since,
    };
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    let parts = read_in_parts(pool, split, &mut tx, &counters).await?;
    tx.commit().await.map_err(map_sqlx)?;
    Ok(parts
        .into_iter()
        .fold(AgentStats::default(), |sum, part| AgentStats {
            total: sum.total + part.total,
            metrics: sum.metrics + part.metrics,
            profiles: sum.profiles + part.profiles,
            active: sum.active + part.active,
        }))
}

// === impl Counters ===

impl PartRead for Counters<'_> {
    type Part = AgentStats;

    async fn read(
        &self,
        conn: &mut SqliteConnection,
        range: IdRange,
    ) -> Result<AgentStats, StoreError> {
        // `julianday` reads every form Finch writes (mattn's, with offset and nanoseconds) and
        // SQLite's own `CURRENT_TIMESTAMP`; a value it cannot read is NULL, so not active.
        let sql = format!(
            "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN {metrics} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN {profiles} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN julianday(CAST(last_seen AS TEXT)) >= julianday(?5) THEN 1 ELSE 0 END), 0) \
             FROM agents WHERE {}{}",
            self.filter.sql,
            range.sql(),
            metrics = truthy("metrics"),
            profiles = truthy("profiles"),
        );
        let mut args = self.filter.arguments(range)?;
        args.add(self.active_since.to_owned()).map_err(arg_error)?;
        let counts = sqlx::query_as_with(&sql, args)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        Ok(AgentStats::from_counts(counts))
    }
}

/// A boolean column as `rows.rs` reads it: non-zero numbers and the usual words are
/// true. A number, as Finch and 1.x store booleans, is decided as a number: `lower` and `trim`
/// allocate their results through SQLite's allocator, whose one global lock the parts of a read
/// would otherwise queue for twice a row.
fn truthy(column: &str) -> String {
    format!(
        "(CASE typeof({column}) WHEN 'integer' THEN {column} <> 0 WHEN 'real' THEN {column} <> 0 \
         ELSE CAST({column} AS REAL) <> 0 \
         OR lower(trim(CAST({column} AS TEXT))) IN ('true', 't', 'yes', 'on') END)"
    )
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the form `julianday` compares.
fn sqlite_time(at: OffsetDateTime) -> Result<String, StoreError> {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .map_err(|e| StoreError::Database(Box::new(e)))
}
