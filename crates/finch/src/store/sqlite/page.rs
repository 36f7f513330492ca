//! The SQLite side of [`crate::store::page`]: scoped, searched, paged reads of `agents`.
//!
//! Scope and search are bound parameters, never spliced into the SQL: the scope travels as one
//! JSON array read with `json_each`, the search as a `LIKE` pattern whose `%`, `_` and `\` are
//! escaped. Labels are searched entry by entry (`json_each` over the column), so a search cannot
//! match the JSON punctuation between two labels. Rows without a resource id (hand edits; 1.x
//! could match them by accident) are never shown.

use sqlx::Row;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments as _, SqliteConnection};
use time::OffsetDateTime;
use time::macros::format_description;

use super::super::StoreError;
use super::super::page::{AgentPage, AgentQuery, AgentScope, AgentStats, total_pages};
use super::super::rows::{self, AGENT_COLUMNS};
use super::{SqliteStore, map_sqlx};

/// Rows a dashboard can show: those with a resource id.
const VISIBLE: &str = "COALESCE(CAST(resource_id AS TEXT), '') <> ''";

/// The scope restriction, reading one bound JSON array.
const IN_SCOPE: &str = "(CAST(resource_id AS TEXT) IN (SELECT value FROM json_each(?)) \
     OR CAST(hostname AS TEXT) IN (SELECT value FROM json_each(?)))";

/// The search, reading the same bound pattern three times.
const MATCHES_SEARCH: &str = "(CAST(hostname AS TEXT) LIKE ? ESCAPE '\\' \
     OR CAST(resource_id AS TEXT) LIKE ? ESCAPE '\\' \
     OR EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(labels) AND json_type(labels) = 'array' \
     THEN labels ELSE '[]' END) WHERE CAST(value AS TEXT) LIKE ? ESCAPE '\\'))";

/// A boolean column as [`rows`] reads it: non-zero numbers and the usual words are true.
fn truthy(column: &str) -> String {
    format!(
        "(CAST({column} AS REAL) <> 0 OR lower(trim(CAST({column} AS TEXT))) IN ('true', 't', 'yes', 'on'))"
    )
}

/// A `WHERE` clause and its arguments.
struct Filter {
    sql: String,
    args: Vec<String>,
}

// === impl SqliteStore ===

impl SqliteStore {
    pub(in crate::store) async fn page_agents(
        &self,
        query: &AgentQuery,
    ) -> Result<AgentPage, StoreError> {
        let filter = Filter::new(&query.scope, query.like_pattern().as_deref())?;
        let page_size = query.page_size.max(1);
        // One read transaction: the count and the page describe the same snapshot.
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        let total = count(&mut tx, &filter).await?;
        let total_pages = total_pages(total, page_size);
        let page = query.page.clamp(1, total_pages);
        let offset = i64::from(page - 1) * i64::from(page_size);
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE {} ORDER BY id LIMIT ? OFFSET ?",
            filter.sql
        );
        let mut args = filter.arguments()?;
        args.add(i64::from(page_size)).map_err(arg_error)?;
        args.add(offset).map_err(arg_error)?;
        let found = sqlx::query_with(&sql, args)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        let agents = found
            .iter()
            .map(rows::agent_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AgentPage {
            agents,
            page,
            total_pages,
            total_agents: total,
        })
    }

    pub(in crate::store) async fn agent_stats(
        &self,
        scope: &AgentScope,
        active_since: OffsetDateTime,
    ) -> Result<AgentStats, StoreError> {
        let filter = Filter::new(scope, None)?;
        // `julianday` reads every form Finch writes (mattn's, with offset and nanoseconds) and
        // SQLite's own `CURRENT_TIMESTAMP`; a value it cannot read is NULL, so not active.
        let sql = format!(
            "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN {metrics} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN {profiles} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN julianday(CAST(last_seen AS TEXT)) >= julianday(?) THEN 1 ELSE 0 END), 0) \
             FROM agents WHERE {}",
            filter.sql,
            metrics = truthy("metrics"),
            profiles = truthy("profiles"),
        );
        let mut args = SqliteArguments::default();
        args.add(sqlite_time(active_since)?).map_err(arg_error)?;
        for arg in filter.args {
            args.add(arg).map_err(arg_error)?;
        }
        let row = sqlx::query_with(&sql, args)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let get = |index: usize| -> Result<u64, StoreError> {
            let value: i64 = row
                .try_get(index)
                .map_err(|e| StoreError::Database(Box::new(e)))?;
            Ok(u64::try_from(value).unwrap_or(0))
        };
        Ok(AgentStats {
            total: get(0)?,
            metrics: get(1)?,
            profiles: get(2)?,
            active: get(3)?,
        })
    }
}

// === impl Filter ===

impl Filter {
    fn new(scope: &AgentScope, pattern: Option<&str>) -> Result<Filter, StoreError> {
        let mut sql = VISIBLE.to_owned();
        let mut args = Vec::new();
        if let AgentScope::Only(entries) = scope {
            let entries =
                serde_json::to_string(entries).map_err(|e| StoreError::Database(Box::new(e)))?;
            sql.push_str(" AND ");
            sql.push_str(IN_SCOPE);
            args.push(entries.clone());
            args.push(entries);
        }
        if let Some(pattern) = pattern {
            sql.push_str(" AND ");
            sql.push_str(MATCHES_SEARCH);
            args.extend(std::iter::repeat_n(pattern.to_owned(), 3));
        }
        Ok(Filter { sql, args })
    }

    fn arguments(&self) -> Result<SqliteArguments<'static>, StoreError> {
        let mut args = SqliteArguments::default();
        for arg in &self.args {
            args.add(arg.clone()).map_err(arg_error)?;
        }
        Ok(args)
    }
}

async fn count(conn: &mut SqliteConnection, filter: &Filter) -> Result<u64, StoreError> {
    let sql = format!("SELECT COUNT(*) FROM agents WHERE {}", filter.sql);
    let row = sqlx::query_with(&sql, filter.arguments()?)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_sqlx)?;
    let total: i64 = row
        .try_get(0)
        .map_err(|e| StoreError::Database(Box::new(e)))?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the form `julianday` compares.
fn sqlite_time(at: OffsetDateTime) -> Result<String, StoreError> {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .map_err(|e| StoreError::Database(Box::new(e)))
}

fn arg_error(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Database(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
