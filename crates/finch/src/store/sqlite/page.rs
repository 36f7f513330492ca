//! The SQLite side of [`crate::store::page`]: scoped, searched, paged reads of `agents`.
//!
//! Scope and search are bound parameters, never spliced into the SQL: the scope travels as one
//! JSON array read with `json_each` (`?1`), the search as a `LIKE` pattern whose `%`, `_` and `\`
//! are escaped (`?2`). Rows without a resource id (hand edits; 1.x could match them by accident)
//! are never shown.
//!
//! `LIKE '%term%'` cannot seek, so a search reads every visible row; at 100,000 agents that read
//! is the cost of a page, and this module makes it one pass over as few bytes as possible:
//!
//! - **One pass for count and page.** The first statement returns the ids of the first matches,
//!   as many as the page asked for needs (at most [`HEAD_LIMIT`]). Fewer than that means they are
//!   all the matches: a selective search is done in one pass. Otherwise a second statement counts
//!   the rest, starting after the last id seen, so a broad search finds its page at once and
//!   counts on. A page past the head (deep pages, or "past the end", which shows the last page) is
//!   walked to from whichever end of the matches is nearer. The page's rows are then read by id.
//!   All of it runs in one read transaction, so count and page describe the same snapshot.
//! - **Several cores.** On a large table the first pass is cut by id into parts, read at the same
//!   time on other connections too, each in a transaction whose snapshot is checked to agree with
//!   the page's own ([`parts`]). The counters ([`counters`]) are read the same way.
//! - **A narrow index.** The scan reads `finch_agents_search` (see [`SEARCH_TEXT`]): the visible
//!   rows in id order, each with hostname, resource id and labels as one text. That is half the
//!   bytes of the table, and one `LIKE` per row instead of three plus decoding the labels JSON,
//!   which was most of the time of a search.
//! - **Exact on JSON.** Labels are searched entry by entry, decoded, so a term cannot match the
//!   punctuation between two labels and a label stored with escapes (`\"`, `\u00e9`) matches what
//!   they stand for. A term missing from a row's search text is missing from all its fields. A
//!   term found there is found in one field when it has none of `"`, `,`, `[`, `]`, the only
//!   characters that separate the fields and the labels in that text; any other term is
//!   confirmed field by field ([`MATCHES_FIELDS`]), and so are rows without a search text (labels
//!   that need decoding). A term holding a NUL, which ends a `LIKE` pattern early, is only ever
//!   matched field by field.

use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments as _, SqliteConnection};

use self::parts::{IdRange, PartRead, read_in_parts};
use super::super::StoreError;
use super::super::page::{AgentPage, AgentQuery, AgentScope, like_pattern, total_pages};
use super::super::rows::{self, AGENT_COLUMNS};
use super::super::schema::{SEARCH_TEXT, VISIBLE};
use super::{SqliteStore, map_sqlx};
use crate::agents::Agent;

mod counters;
mod parts;

pub(super) use self::parts::Split;

/// The scope restriction, reading the JSON array `?1`.
const IN_SCOPE: &str = "(CAST(resource_id AS TEXT) IN (SELECT value FROM json_each(?1)) \
     OR CAST(hostname AS TEXT) IN (SELECT value FROM json_each(?1)))";

/// The search, field by field, for the pattern `?2`: hostname, resource id, or one entry of the
/// labels array, decoded. This is what a search means; the search text only gets there faster.
const MATCHES_FIELDS: &str = "(CAST(hostname AS TEXT) LIKE ?2 ESCAPE '\\' \
     OR CAST(resource_id AS TEXT) LIKE ?2 ESCAPE '\\' \
     OR EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(labels) AND json_type(labels) = 'array' \
     THEN labels ELSE '[]' END) WHERE CAST(value AS TEXT) LIKE ?2 ESCAPE '\\'))";

/// The characters that separate the fields and the labels in a row's [`SEARCH_TEXT`].
const SEPARATORS: [char; 4] = ['"', ',', '[', ']'];

/// Most ids the first statement of a page returns: a page within the first this many matches
/// needs no second walk, and a request far past the end does not collect the whole fleet's ids.
const HEAD_LIMIT: u64 = 1000;

/// A `WHERE` clause over `agents` and its arguments: `?1` the scope, `?2` the search pattern,
/// `?3` and `?4` the bounds of an [`IdRange`]. Statements number their own parameters from `?5`.
struct Filter {
    sql: String,
    scope: Option<String>,
    pattern: Option<String>,
}

/// The first matching rows of a read, as many as a page needs, and how many match in all.
struct Head {
    ids: Vec<i64>,
    total: u64,
}

/// [`Filter::head`] as a read in parts: the first `limit` matches of each part.
struct HeadRead<'a> {
    filter: &'a Filter,
    limit: u64,
}

/// The way a walk over the matching rows goes: up from the first or down from the last.
#[derive(Clone, Copy)]
enum Walk {
    Up,
    Down,
}

// === impl SqliteStore ===

impl SqliteStore {
    pub(in crate::store) async fn page_agents(
        &self,
        query: &AgentQuery,
    ) -> Result<AgentPage, StoreError> {
        let filter = Filter::new(&query.scope, query.search_term())?;
        let size = u64::from(query.page_size.max(1));
        // Whole pages, so that a page lies either in the head or past it.
        let head_pages = u64::from(query.page.max(1)).min((HEAD_LIMIT / size).max(1));
        let head_limit = head_pages * size;
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        let read = HeadRead {
            filter: &filter,
            limit: head_limit,
        };
        let parts = read_in_parts(self, &mut tx, &read).await?;
        let Head { ids: head, total } = Head::join(parts, head_limit);
        let head_len = len(&head);
        let total_pages = total_pages(total, query.page_size);
        let page = query.page.clamp(1, total_pages);
        let start = u64::from(page - 1) * size;
        let end = (start + size).min(total);
        let ids = match (head.get(index(start)..index(end)), head.last()) {
            (Some(ids), _) => ids.to_vec(),
            // Past the head, which is then full: walk the rest from its nearer end.
            (None, Some(&last)) => {
                let skip = start.saturating_sub(head_len);
                let after = total - end;
                let (walk, offset) = if after < skip {
                    (Walk::Down, after)
                } else {
                    (Walk::Up, skip)
                };
                filter
                    .ids(&mut tx, IdRange::ALL.after(last), walk, end - start, offset)
                    .await?
            }
            (None, None) => Vec::new(),
        };
        let agents = rows_by_id(&mut tx, &ids).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(AgentPage {
            agents,
            page,
            total_pages,
            total_agents: total,
        })
    }
}

// === impl Filter ===

impl Filter {
    /// Visible rows in `scope` that contain `term` (already trimmed), if any.
    fn new(scope: &AgentScope, term: Option<&str>) -> Result<Filter, StoreError> {
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
    fn arguments(&self, range: IdRange) -> Result<SqliteArguments<'static>, StoreError> {
        let mut args = SqliteArguments::default();
        args.add(self.scope.clone()).map_err(arg_error)?;
        args.add(self.pattern.clone()).map_err(arg_error)?;
        args.add(range.after).map_err(arg_error)?;
        args.add(range.through).map_err(arg_error)?;
        Ok(args)
    }

    /// The statement of [`Filter::ids`]: `?5` the limit, `?6` the offset. One row holding a JSON
    /// array: a thousand ids are one value, not a thousand rows.
    fn ids_sql(&self, range: IdRange, walk: Walk) -> String {
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
    fn count_sql(&self, range: IdRange) -> String {
        format!(
            "SELECT COUNT(*) FROM agents WHERE {}{}",
            self.sql,
            range.sql()
        )
    }

    /// The first `limit` matching rows in `range` and how many match there in all.
    async fn head(
        &self,
        conn: &mut SqliteConnection,
        range: IdRange,
        limit: u64,
    ) -> Result<Head, StoreError> {
        let ids = self.ids(conn, range, Walk::Up, limit, 0).await?;
        let total = match ids.last() {
            Some(&last) if len(&ids) == limit => {
                limit + self.count(conn, range.after(last)).await?
            }
            _ => len(&ids),
        };
        Ok(Head { ids, total })
    }

    /// Ids of matching rows in `range`, in ascending order: `limit` of them, after skipping
    /// `offset` on the `walk` up from the first or down from the last.
    async fn ids(
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
    async fn count(&self, conn: &mut SqliteConnection, range: IdRange) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar_with(&self.count_sql(range), self.arguments(range)?)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

// === impl HeadRead ===

impl PartRead for HeadRead<'_> {
    type Part = Head;

    async fn read(&self, conn: &mut SqliteConnection, range: IdRange) -> Result<Head, StoreError> {
        self.filter.head(conn, range, self.limit).await
    }
}

// === impl Head ===

impl Head {
    /// The head and count over the parts of a read, given in id order.
    fn join(parts: Vec<Head>, limit: u64) -> Head {
        let mut joined = Head {
            ids: Vec::new(),
            total: 0,
        };
        for part in parts {
            let room = index(limit).saturating_sub(joined.ids.len());
            joined.ids.extend(part.ids.into_iter().take(room));
            joined.total += part.total;
        }
        joined
    }
}

/// The agents with these ids, in id order.
async fn rows_by_id(conn: &mut SqliteConnection, ids: &[i64]) -> Result<Vec<Agent>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE id IN (SELECT value FROM json_each(?1)) \
         ORDER BY id"
    );
    let ids = serde_json::to_string(ids).map_err(|e| StoreError::Database(Box::new(e)))?;
    let found = sqlx::query(&sql)
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_sqlx)?;
    found.iter().map(rows::agent_from_row).collect()
}

/// How many ids a list holds, as the counts above are kept.
fn len(ids: &[i64]) -> u64 {
    u64::try_from(ids.len()).unwrap_or(u64::MAX)
}

/// A position in a list of ids.
fn index(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// A count as SQLite binds it. Counts here stay below `u32::MAX` squared.
fn sql_count(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn arg_error(e: sqlx::error::BoxDynError) -> StoreError {
    StoreError::Database(e)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
