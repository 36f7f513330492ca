//! The SQLite side of the dashboard's reads (`store/page.rs`): scoped, searched, paged reads of
//! `agents`, and the counters ([`counters`]).
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
//!   the page's own ([`parts`]). The counters are read the same way.
//! - **A narrow index.** The scan reads `finch_agents_search` (see `SEARCH_TEXT` in `schema.rs`):
//!   the visible rows in id order, each with hostname, resource id and labels as one text. That is
//!   half the bytes of the table, and one `LIKE` per row instead of three plus decoding the labels
//!   JSON, which was most of the time of a search.
//! - **Exact on JSON.** Labels are matched entry by entry, decoded; [`filter`] says when the
//!   search text may answer for the fields.

use sqlx::{SqliteConnection, SqlitePool};

use self::filter::{Filter, Walk};
use self::parts::{IdRange, PartRead, read_in_parts};
use super::error::map_sqlx;
use super::rows::{self, AGENT_COLUMNS};
use crate::agents::Agent;
use crate::store::error::StoreError;
use crate::store::page::{AgentPage, AgentQuery, PageWindow};

pub(super) mod counters;
mod filter;
mod parts;

pub(super) use self::parts::Split;

/// Most ids the first statement of a page returns: a page within the first this many matches
/// needs no second walk, and a request far past the end does not collect the whole fleet's ids.
const HEAD_LIMIT: u64 = 1000;

/// The first matching rows of a read, as many as a page needs, and how many match in all.
struct Head {
    ids: Vec<i64>,
    total: u64,
}

/// The head of a read in parts: the first `limit` matches of each part.
struct HeadRead<'a> {
    filter: &'a Filter,
    limit: u64,
}

/// Reads one page of the agents `query` selects, with their count, on `pool`'s connections
/// (more than one on a large table, as `split` allows).
pub(super) async fn page_agents(
    pool: &SqlitePool,
    split: Split,
    query: &AgentQuery,
) -> Result<AgentPage, StoreError> {
    let filter = Filter::new(&query.scope, query.search_term())?;
    let size = u64::from(query.page_size.max(1));
    // Whole pages, so that a page lies either in the head or past it.
    let head_pages = u64::from(query.page.max(1)).min((HEAD_LIMIT / size).max(1));
    let head_limit = head_pages * size;
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    let read = HeadRead {
        filter: &filter,
        limit: head_limit,
    };
    let parts = read_in_parts(pool, split, &mut tx, &read).await?;
    let Head { ids: head, total } = Head::join(parts, head_limit);
    let head_len = len(&head);
    let window = PageWindow::new(query, total);
    let PageWindow { start, end, .. } = window;
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
    Ok(window.answer(agents))
}

// === impl HeadRead ===

impl PartRead for HeadRead<'_> {
    type Part = Head;

    async fn read(&self, conn: &mut SqliteConnection, range: IdRange) -> Result<Head, StoreError> {
        let ids = self
            .filter
            .ids(conn, range, Walk::Up, self.limit, 0)
            .await?;
        let total = match ids.last() {
            Some(&last) if len(&ids) == self.limit => {
                self.limit + self.filter.count(conn, range.after(last)).await?
            }
            _ => len(&ids),
        };
        Ok(Head { ids, total })
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
