//! The PostgreSQL side of the dashboard's reads (`store/page.rs`): scoped, searched, paged reads
//! of `agents`, and the counters.
//!
//! A page is read in one read-only `REPEATABLE READ` transaction, so count and page describe the
//! same snapshot. [`Filter`] says which rows match and how the trigram index finds them.
//!
//! - **A search or a scope** first reads the ids of its matches, up to one more than
//!   [`IDS_AT_ONCE`] and in no order ([`FIRST_MATCHES`]), so the planner is free to find them
//!   the cheapest way. When that is all of them, the ids give the count and the page, which is
//!   then read by primary key: a search for one host name costs one trigram scan. Before, a
//!   count and then an `ORDER BY id LIMIT` walk scanned twice, and the walk could be planned as
//!   a read of the primary key rechecking `LIKE` row by row: the planner guesses that about ten
//!   rows match a long pattern, so for a page of one row it expected to stop a tenth of the way
//!   in, and for a host name halfway down the fleet it read 50,000 rows (`EXPLAIN ANALYZE` at
//!   100,000 agents: 45–60 ms, against 8 ms for the trigram scan).
//! - **The whole fleet, or more matches than that**, are counted, then the page's ids walked in
//!   id order from whichever end of the matches is nearer (a page near the end, "past the end"
//!   included, does not skip over the whole fleet). Matches that many are dense enough that the
//!   walk finds its rows early, and reading the first of them stopped early too.
//!
//! The counters are one aggregate.

use futures_util::TryStreamExt as _;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::error::map_sqlx;
use super::rows::{self, AGENT_COLUMNS};
use super::search::Filter;
use crate::agents::Agent;
use crate::store::error::StoreError;
use crate::store::page::{AgentPage, AgentQuery, AgentScope, AgentStats, PageWindow};

/// Starts the read-only snapshot transaction every dashboard read runs in, planned for the
/// search at hand. sqlx prepares each statement once per connection, and after five executions
/// PostgreSQL may keep a generic plan, which knows nothing of the pattern: it guesses 0.5% of the
/// rows match, so the page's `ORDER BY id LIMIT` walks the primary key and rechecks `LIKE` on
/// every row until the page is full. For one host name that read all 100,000 search texts
/// (`EXPLAIN ANALYZE`: 99,999 rows removed by the filter, 208 ms, against 11 ms through the
/// trigram index). A custom plan, made with the pattern, picks the trigram index for a narrow
/// search and the key walk for a broad one; planning it costs well under a millisecond.
const READ_SNAPSHOT: [&str; 2] = [
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    "SET LOCAL plan_cache_mode = force_custom_plan",
];

/// The most matches whose ids a page reads at once: 80 KB of ids, a few milliseconds. More
/// matches than this are at least a tenth of a fleet of 100,000, and walking the primary key
/// finds a page of them quickly.
pub(super) const IDS_AT_ONCE: u32 = 10_000;

/// The ids of the first `$3` matches of a [`Filter`] (`$1`, `$2`) found, in no order; `NULL`
/// for none.
const FIRST_MATCHES: &str =
    "SELECT array_agg({id}) FROM (SELECT {id} FROM {table} WHERE {sql} LIMIT $3) AS found";

/// Reads one page of the agents `query` selects, with their count. Searches and scopes with at
/// most `ids_at_once` matches are read in one scan of them (see the module's docs).
pub(super) async fn page_agents(
    pool: &PgPool,
    query: &AgentQuery,
    ids_at_once: u32,
) -> Result<AgentPage, StoreError> {
    let everyone = matches!(query.scope, AgentScope::All) && query.search_term().is_none();
    let filter = Filter::for_page(&query.scope, query.search_term());
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    for statement in READ_SNAPSHOT {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
    }
    let (total, ids) = if everyone {
        (count(&mut tx, &filter).await?, None)
    } else {
        read_matches(&mut tx, &filter, ids_at_once).await?
    };
    let window = PageWindow::new(query, total);
    let agents = match ids {
        _ if window.start >= window.end => Vec::new(),
        Some(ids) => {
            let page = usize::try_from(window.start).unwrap_or(usize::MAX)
                ..usize::try_from(window.end).unwrap_or(usize::MAX);
            rows_by_id(&mut tx, ids.get(page).unwrap_or_default()).await?
        }
        None => page_rows(&mut tx, &filter, window).await?,
    };
    tx.commit().await.map_err(map_sqlx)?;
    Ok(window.answer(agents))
}

/// How many rows match `filter`.
async fn count(conn: &mut PgConnection, filter: &Filter) -> Result<u64, StoreError> {
    let count = format!("SELECT count(*) FROM {} WHERE {}", filter.table, filter.sql);
    let total: i64 = sqlx::query_scalar(&count)
        .bind(&filter.pattern)
        .bind(&filter.scope)
        .fetch_one(conn)
        .await
        .map_err(map_sqlx)?;
    Ok(u64::try_from(total).unwrap_or(0))
}

/// How many rows match `filter`, with their ids in order when there are at most `ids_at_once`.
async fn read_matches(
    conn: &mut PgConnection,
    filter: &Filter,
    ids_at_once: u32,
) -> Result<(u64, Option<Vec<i64>>), StoreError> {
    let sql = FIRST_MATCHES
        .replace("{id}", filter.id)
        .replace("{table}", filter.table)
        .replace("{sql}", &filter.sql);
    let found: Option<Vec<i64>> = sqlx::query_scalar(&sql)
        .bind(&filter.pattern)
        .bind(&filter.scope)
        .bind(i64::from(ids_at_once) + 1)
        .fetch_one(&mut *conn)
        .await
        .map_err(map_sqlx)?;
    let mut ids = found.unwrap_or_default();
    if ids.len() > usize::try_from(ids_at_once).unwrap_or(usize::MAX) {
        return Ok((count(conn, filter).await?, None));
    }
    ids.sort_unstable();
    Ok((u64::try_from(ids.len()).unwrap_or(u64::MAX), Some(ids)))
}

/// The agents with the ids `ids`, in id order.
async fn rows_by_id(conn: &mut PgConnection, ids: &[i64]) -> Result<Vec<Agent>, StoreError> {
    let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ANY($1) ORDER BY id");
    collect_agents(sqlx::query(&sql).bind(ids).fetch(conn)).await
}

/// The matching rows of `window` in id order, walked from the nearer end.
async fn page_rows(
    conn: &mut PgConnection,
    filter: &Filter,
    window: PageWindow,
) -> Result<Vec<Agent>, StoreError> {
    let PageWindow {
        start, end, total, ..
    } = window;
    let after = total - end;
    let (order, offset) = if after < start {
        ("DESC", after)
    } else {
        ("ASC", start)
    };
    let Filter { table, id, .. } = filter;
    let sql = format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE id IN (SELECT {id} FROM {table} WHERE {} \
         ORDER BY {id} {order} LIMIT $3 OFFSET $4) ORDER BY id",
        filter.sql
    );
    let found = sqlx::query(&sql)
        .bind(&filter.pattern)
        .bind(&filter.scope)
        .bind(i64::try_from(end - start).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch(&mut *conn);
    collect_agents(found).await
}

/// Reads the agents a statement's rows hold.
async fn collect_agents(
    mut found: impl futures_util::Stream<Item = Result<PgRow, sqlx::Error>> + Unpin,
) -> Result<Vec<Agent>, StoreError> {
    let mut agents = Vec::new();
    while let Some(row) = found.try_next().await.map_err(map_sqlx)? {
        agents.push(rows::agent_from_row(&row)?);
    }
    Ok(agents)
}

/// Counts the agents in `scope`; those last seen at or after `active_since` are active.
pub(super) async fn agent_stats(
    pool: &PgPool,
    scope: &AgentScope,
    active_since: OffsetDateTime,
) -> Result<AgentStats, StoreError> {
    let filter = Filter::new(scope, None);
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE metrics), count(*) FILTER (WHERE profiles), \
         count(*) FILTER (WHERE last_seen >= $3) FROM {} WHERE {}",
        filter.table, filter.sql
    );
    let counts = sqlx::query_as(&sql)
        .bind(&filter.pattern)
        .bind(&filter.scope)
        .bind(active_since)
        .fetch_one(pool)
        .await
        .map_err(map_sqlx)?;
    Ok(AgentStats::from_counts(counts))
}
