//! The `WHERE` clause of a dashboard read: visible rows, in a scope, matching a search.
//!
//! Scope and search are bound parameters, never spliced into the SQL: the scope travels as one
//! JSON array read with `json_each` (`?1`), the search as a `LIKE` pattern whose `%`, `_` and `\`
//! are escaped (`?2`). Rows without a resource id (hand edits; 1.x could match them by accident)
//! are never shown.
//!
//! **Exact on JSON.** Labels are searched entry by entry, decoded, so a term cannot match the
//! punctuation between two labels and a label stored with escapes (`\"`, `\u00e9`) matches what
//! they stand for. A row's search text ([`SEARCH_TEXT`]) only gets there faster: a term missing
//! from it is missing from all the row's fields. A term found there is found in one field when it
//! has none of `"`, `,`, `[`, `]`, the only characters that separate the fields and the labels in
//! that text; any other term is confirmed field by field ([`MATCHES_FIELDS`]), and so are rows
//! without a search text (labels that need decoding). A term holding a NUL, which ends a `LIKE`
//! pattern early, is only ever matched field by field.

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments as _, SqliteConnection};

use super::parts::IdRange;
use crate::store::error::StoreError;
use crate::store::page::{AgentScope, like_pattern};
use crate::store::sqlite::error::map_sqlx;
use crate::store::sqlite::schema::{SEARCH_TEXT, VISIBLE};

/// The scope restriction, reading the JSON array `?1`.
const IN_SCOPE: &str = "(CAST(resource_id AS TEXT) IN (SELECT value FROM json_each(?1)) \
     OR CAST(hostname AS TEXT) IN (SELECT value FROM json_each(?1)))";

/// The search, field by field, for the pattern `?2`: hostname, resource id, or one entry of the
/// labels array, decoded. This is what a search means; the search text only gets there faster.
pub(super) const MATCHES_FIELDS: &str = "(CAST(hostname AS TEXT) LIKE ?2 ESCAPE '\\' \
     OR CAST(resource_id AS TEXT) LIKE ?2 ESCAPE '\\' \
     OR EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(labels) AND json_type(labels) = 'array' \
     THEN labels ELSE '[]' END) WHERE CAST(value AS TEXT) LIKE ?2 ESCAPE '\\'))";

/// The characters that separate the fields and the labels in a row's [`SEARCH_TEXT`].
const SEPARATORS: [char; 4] = ['"', ',', '[', ']'];

/// A `WHERE` clause over `agents` and its arguments: `?1` the scope, `?2` the search pattern,
/// `?3` and `?4` the bounds of an [`IdRange`]. Statements number their own parameters from `?5`.
pub(super) struct Filter {
    /// The clause, without `WHERE`.
    pub(super) sql: String,
    /// `?1`: the scope's entries as a JSON array; `None` for every agent.
    scope: Option<String>,
    /// `?2`: the search as an escaped `LIKE` pattern; `None` for no search.
    pattern: Option<String>,
}

/// The way a walk over the matching rows goes: up from the first or down from the last.
#[derive(Clone, Copy)]
pub(super) enum Walk {
    Up,
    Down,
}

// === impl Filter ===

impl Filter {
    /// Visible rows in `scope` that contain `term` (already trimmed), if any.
    pub(super) fn new(scope: &AgentScope, term: Option<&str>) -> Result<Filter, StoreError> {
        let mut sql = VISIBLE.to_owned();
        if let Some(term) = term {
            // Where a row has a search text, the term is missing from its fields if missing
            // there, and found in one of them if found there, unless it could have matched
            // across the separators.
            sql.push_str(&if term.contains('\0') {
                // SQLite reads a pattern as a C string: a NUL ends it, and the final `%` with it.
                // Only the fields themselves give that answer.
                format!(" AND {MATCHES_FIELDS}")
            } else if term.contains(SEPARATORS) {
                format!(" AND COALESCE({SEARCH_TEXT} LIKE ?2 ESCAPE '\\', 1) AND {MATCHES_FIELDS}")
            } else {
                format!(" AND COALESCE({SEARCH_TEXT} LIKE ?2 ESCAPE '\\', {MATCHES_FIELDS})")
            });
        }
        let scope = match scope {
            AgentScope::All => None,
            AgentScope::Only(entries) => {
                sql.push_str(" AND ");
                sql.push_str(IN_SCOPE);
                Some(
                    serde_json::to_string(entries)
                        .map_err(|e| StoreError::Database(Box::new(e)))?,
                )
            }
        };
        Ok(Filter {
            sql,
            scope,
            pattern: term.map(like_pattern),
        })
    }

    /// `?1` and `?2`, `NULL` where the clause is absent, then the bounds of `range`, `?3` and
    /// `?4`.
    pub(super) fn arguments(&self, range: IdRange) -> Result<SqliteArguments<'static>, StoreError> {
        let mut args = SqliteArguments::default();
        args.add(self.scope.clone()).map_err(arg_error)?;
        args.add(self.pattern.clone()).map_err(arg_error)?;
        args.add(range.after).map_err(arg_error)?;
        args.add(range.through).map_err(arg_error)?;
        Ok(args)
    }

    /// The statement of [`Filter::ids`]: `?5` the limit, `?6` the offset. One row holding a JSON
    /// array: a thousand ids are one value, not a thousand rows.
    pub(super) fn ids_sql(&self, range: IdRange, walk: Walk) -> String {
        let order = match walk {
            Walk::Up => "ASC",
            Walk::Down => "DESC",
        };
        format!(
            "SELECT json_group_array(id) FROM (SELECT id FROM agents WHERE {}{} \
             ORDER BY id {order} LIMIT ?5 OFFSET ?6)",
            self.sql,
            range.sql()
        )
    }

    /// The statement of [`Filter::count`].
    pub(super) fn count_sql(&self, range: IdRange) -> String {
        format!(
            "SELECT COUNT(*) FROM agents WHERE {}{}",
            self.sql,
            range.sql()
        )
    }

    /// Ids of matching rows in `range`, in ascending order: `limit` of them, after skipping
    /// `offset` on the `walk` up from the first or down from the last.
    pub(super) async fn ids(
        &self,
        conn: &mut SqliteConnection,
        range: IdRange,
        walk: Walk,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<i64>, StoreError> {
        let sql = self.ids_sql(range, walk);
        let mut args = self.arguments(range)?;
        args.add(sql_count(limit)).map_err(arg_error)?;
        args.add(sql_count(offset)).map_err(arg_error)?;
        let json: String = sqlx::query_scalar_with(&sql, args)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        let mut ids: Vec<i64> =
            serde_json::from_str(&json).map_err(|e| StoreError::Database(Box::new(e)))?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// How many rows in `range` match.
    pub(super) async fn count(
        &self,
        conn: &mut SqliteConnection,
        range: IdRange,
    ) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar_with(&self.count_sql(range), self.arguments(range)?)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// A count as SQLite binds it. Counts here stay below `u32::MAX` squared.
fn sql_count(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// An argument that cannot be bound.
pub(super) fn arg_error(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Database(e)
}
