//! One read of the agents split by id over several connections, so that it uses several cores.
//!
//! A search reads every visible row (see the parent module), and SQLite runs a statement on one
//! thread: at 100,000 agents that read takes one core well over 10 ms, most of a page. So a
//! read over a large table is cut into parts by id, and each part is read at the same time on a
//! pooled connection of its own. The parts are then put together in id order, which is simple
//! because no row can lie in two of them.
//!
//! The parts must describe one state of the table, while each connection reads in a transaction
//! of its own, with a snapshot of its own. Two snapshots agree on everything a page or a count
//! reads when they agree on the change version: the store's triggers move it on every insert and
//! delete and on every change of a resource id, hostname or labels (not on `last_seen`, which
//! only the page's own rows show, and they are read on the first connection alone). A connection
//! whose snapshot has another version is not used; neither is one that is not idle at once, so a
//! read never waits for a second connection while holding one. With fewer helpers the read is cut
//! into fewer parts, down to one: the answer is the same, only slower.
//!
//! The parts would queue for a lock without `.cargo/config.toml`: the SQLite that
//! `libsqlite3-sys` bundles is otherwise built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, which puts
//! the page caches of all connections behind one lock, taken for every page a scan reads (see
//! `docs/performance.md`). A test checks that the build leaves it out.

use std::iter;

use futures_util::future::try_join_all;
use sqlx::pool::PoolConnection;
use sqlx::{Connection as _, Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::store::backend::read_version;
use crate::store::error::StoreError;
use crate::store::records::ChangeVersion;
use crate::store::sqlite::error::map_sqlx;

/// Ids per part below which a read is not split: for a smaller table the parts' own statements
/// and transactions would cost about what they save (at 10,000 rows a whole search takes about
/// 2 ms).
const MIN_IDS_PER_PART: i64 = 10_000;

/// How a store splits its reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store::sqlite) struct Split {
    /// The most parts a read is cut into, each read by a connection.
    parts: usize,
    /// The fewest ids (between the lowest and the highest) a part covers.
    min_ids_per_part: i64,
}

/// The rows whose ids lie above `after` and up to `through`; `None` leaves that side open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct IdRange {
    pub(super) after: Option<i64>,
    pub(super) through: Option<i64>,
}

// === impl Split ===

impl Split {
    /// Never split: for a database only one connection can reach.
    pub(in crate::store::sqlite) const NEVER: Split = Split {
        parts: 1,
        min_ids_per_part: MIN_IDS_PER_PART,
    };

    /// One part per core, leaving at least one of the pool's `connections` to other work.
    pub(in crate::store::sqlite) fn for_pool(connections: u32) -> Split {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let spare = usize::try_from(connections.saturating_sub(1)).unwrap_or(1);
        Split {
            parts: cores.min(spare).max(1),
            ..Split::NEVER
        }
    }

    /// How many connections the pool keeps open, so that a read finds its helpers idle.
    pub(in crate::store::sqlite) fn connections(self) -> u32 {
        u32::try_from(self.parts).unwrap_or(u32::MAX)
    }

    /// Into how many parts to cut the ids from `lowest` to `highest`.
    fn parts_for(self, lowest: i64, highest: i64) -> usize {
        let ids = i128::from(highest) - i128::from(lowest) + 1;
        let parts = ids / i128::from(self.min_ids_per_part.max(1));
        usize::try_from(parts)
            .unwrap_or(usize::MAX)
            .clamp(1, self.parts)
    }

    #[cfg(test)]
    pub(in crate::store::sqlite) fn new(parts: usize, min_ids_per_part: i64) -> Split {
        Split {
            parts,
            min_ids_per_part,
        }
    }
}

// === impl IdRange ===

impl IdRange {
    /// Every row.
    pub(super) const ALL: IdRange = IdRange {
        after: None,
        through: None,
    };

    /// The part of this range above `id`.
    pub(super) fn after(self, id: i64) -> IdRange {
        IdRange {
            after: Some(id),
            ..self
        }
    }

    /// The condition on `id`, reading the bounds from `?3` and `?4`; empty for every row.
    pub(super) fn sql(self) -> String {
        let mut sql = String::new();
        if self.after.is_some() {
            sql.push_str(" AND id > ?3");
        }
        if self.through.is_some() {
            sql.push_str(" AND id <= ?4");
        }
        sql
    }

    /// `parts` ranges that cover every id in order, cutting `lowest..=highest` evenly.
    fn split(lowest: i64, highest: i64, parts: usize) -> Vec<IdRange> {
        let ids = i128::from(highest) - i128::from(lowest) + 1;
        let count = i128::try_from(parts.max(1)).unwrap_or(1);
        // At least `lowest - 1` and at most `highest`: only the first can leave the type, and
        // `i64::MIN` cuts the same there.
        let cut =
            |n: i128| i64::try_from(i128::from(lowest) - 1 + ids * n / count).unwrap_or(i64::MIN);
        (0..count)
            .map(|n| IdRange {
                after: (n > 0).then(|| cut(n)),
                through: (n < count - 1).then(|| cut(n + 1)),
            })
            .collect()
    }
}

/// A read over the rows of `agents` that can be cut into parts by id.
pub(super) trait PartRead: Sync {
    /// What the read of one part gives.
    type Part: Send;

    /// Reads the rows in `range`.
    fn read(
        &self,
        conn: &mut SqliteConnection,
        range: IdRange,
    ) -> impl Future<Output = Result<Self::Part, StoreError>> + Send;
}

/// Runs `read` over every row of `agents`, in parts if the table is large and `split` allows: the
/// first part on `main`, which is in a read transaction, the others at the same time on idle
/// connections of `pool` whose snapshots agree with it. The results come in id order.
pub(super) async fn read_in_parts<R: PartRead>(
    pool: &SqlitePool,
    split: Split,
    main: &mut SqliteConnection,
    read: &R,
) -> Result<Vec<R::Part>, StoreError> {
    // The first read of `main`'s transaction: it fixes the snapshot the helpers must agree with.
    let Some((lowest, highest)) = id_bounds(main).await? else {
        return Ok(vec![read.read(main, IdRange::ALL).await?]);
    };
    let wanted = split.parts_for(lowest, highest);
    // A version that cannot be read (its row deleted by hand) leaves nothing to compare.
    let version = match wanted {
        1 => None,
        _ => read_version(main).await.ok(),
    };
    let Some(version) = version else {
        return Ok(vec![read.read(main, IdRange::ALL).await?]);
    };
    let mut spares = idle_connections(pool, wanted - 1);
    let mut helpers = agreeing(&mut spares, version).await;
    let ranges = IdRange::split(lowest, highest, 1 + helpers.len());
    let conns = iter::once(main).chain(helpers.iter_mut().map(|tx| &mut **tx));
    let results = try_join_all(
        ranges
            .into_iter()
            .zip(conns)
            .map(|(range, conn)| read.read(conn, range)),
    )
    .await?;
    for tx in helpers {
        tx.commit().await.map_err(map_sqlx)?;
    }
    Ok(results)
}

/// Up to `count` of the pool's idle connections, without waiting or opening new ones.
fn idle_connections(pool: &SqlitePool, count: usize) -> Vec<PoolConnection<Sqlite>> {
    iter::from_fn(|| pool.try_acquire()).take(count).collect()
}

/// Begins a read transaction on each of `spares` and keeps those whose snapshot has `version`.
/// A helper that fails is only left out: the read's answer is the first connection's to give.
async fn agreeing(
    spares: &mut [PoolConnection<Sqlite>],
    version: ChangeVersion,
) -> Vec<Transaction<'_, Sqlite>> {
    let mut helpers = Vec::with_capacity(spares.len());
    for conn in spares {
        let Ok(mut tx) = conn.begin().await else {
            continue;
        };
        if read_version(&mut *tx).await.ok() == Some(version) {
            helpers.push(tx);
        }
    }
    helpers
}

/// The lowest and highest id in `agents`, `None` when it is empty. Each is one step down an edge
/// of the table's B-tree (SQLite answers a lone `min` or `max` of the key so).
async fn id_bounds(conn: &mut SqliteConnection) -> Result<Option<(i64, i64)>, StoreError> {
    let (lowest, highest): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT (SELECT min(id) FROM agents), (SELECT max(id) FROM agents)")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
    Ok(lowest.zip(highest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
