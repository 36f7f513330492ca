//! The PostgreSQL side of the dashboard's reads (`store/page.rs`): scoped, searched, paged reads
//! of `agents`, and the counters.
//!
//! A page is three statements in one read-only `REPEATABLE READ` transaction, so count and page
//! describe the same snapshot: the count of the matching rows, then the ids of the page, walked
//! from whichever end of the matches is nearer (a page near the end, "past the end" included,
//! does not skip over the whole fleet), then the page's rows. The counters are one aggregate.
//! [`Filter`] says which rows match and how the trigram index finds them.

use futures_util::TryStreamExt as _;
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

/// Reads one page of the agents `query` selects, with their count.
pub(super) async fn page_agents(
    pool: &PgPool,
    query: &AgentQuery,
) -> Result<AgentPage, StoreError> {
    let filter = Filter::for_page(&query.scope, query.search_term());
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    for statement in READ_SNAPSHOT {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
    }
    let count = format!("SELECT count(*) FROM {} WHERE {}", filter.table, filter.sql);
    let total: i64 = sqlx::query_scalar(&count)
        .bind(&filter.pattern)
        .bind(&filter.scope)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx)?;
    let window = PageWindow::new(query, u64::try_from(total).unwrap_or(0));
    let agents = if window.start < window.end {
        page_rows(&mut tx, &filter, window).await?
    } else {
        Vec::new()
    };
    tx.commit().await.map_err(map_sqlx)?;
    Ok(window.answer(agents))
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
    let mut found = sqlx::query(&sql)
        .bind(&filter.pattern)
        .bind(&filter.scope)
        .bind(i64::try_from(end - start).unwrap_or(i64::MAX))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch(&mut *conn);
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
