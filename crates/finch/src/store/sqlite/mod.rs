//! The SQLite backend of the store. [`SqliteStore`] opens the pool and runs the agents' reads and
//! writes; what is SQLite's alone sits below it: the schema and legacy migrations (`schema.rs`),
//! reading rows and timestamps as 1.x left them (`rows.rs`, `timestamp.rs`), the dashboard's
//! pages (`page/`), the health check (`health.rs`) and the mapping of sqlx's errors to
//! `StoreError` (`error.rs`). Nothing here is seen above the store, and nothing here imports
//! `store/mod.rs`: only the shared modules beside it.
//!
//! File databases use WAL with `synchronous = NORMAL` and a 5 s busy timeout, as 1.x did since
//! 2026-04, so readers never wait for the writer and a second process (a replica, an operator's
//! `sqlite3`) waits for the write lock instead of failing. Unlike 1.x's single connection, a small
//! pool lets reads proceed while a write runs. `:memory:` keeps exactly one connection for the
//! life of the store: a private in-memory database lives and dies with its connection, so a
//! second connection (or a reaped idle one) would see an empty, different database.
//!
//! Every write runs in one transaction that also reads the change version the write produced, so
//! the version returned is exactly the one that includes this write. Transactions that write do
//! so in their first statement, which takes SQLite's write lock under the busy timeout; a
//! deferred transaction that read first could not upgrade its lock without failing.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection, Transaction};
use time::OffsetDateTime;

use self::error::{map_sqlx, open_error};
use self::health::FileDatabase;
use self::page::Split;
use self::rows::{AGENT_COLUMNS, DIRECTORY_COLUMNS};
use crate::agents::{Agent, AgentChanges, AgentRid, AgentSpec};
use crate::store::backend::{self, read_version};
use crate::store::columns::{encode_list, labels_column, log_sources_column};
use crate::store::error::{StoreError, refuse_empty};
use crate::store::import;
use crate::store::page::{AgentPage, AgentQuery, AgentScope, AgentStats};
use crate::store::records::{AgentSummary, ChangeVersion, DirectoryRow};
use crate::store::uri::UriError;

mod error;
mod health;
mod page;
mod rows;
mod schema;
#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
mod timestamp;

/// Sets `last_seen` of the agents whose ids are in a JSON array. One text for any number of
/// ids, so each connection caches one prepared statement for it: a `?` per id would make every
/// batch size a statement of its own, and sqlx caches up to 100 per connection at about 100 kB
/// each for 500 ids, megabytes that stay resident after a burst of marks.
///
/// A mark never moves a timestamp backwards: batches may arrive out of order (several writers on
/// one file, parts of one batch), and the stored text may be in any zone 1.x wrote, so times
/// are compared as instants (`julianday`). A value SQLite cannot read as a time is replaced.
const RECORD_LAST_SEEN: &str = "UPDATE agents SET last_seen = ?1 \
     WHERE resource_id IN (SELECT value FROM json_each(?2)) \
     AND (last_seen IS NULL OR typeof(last_seen) <> 'text' \
     OR coalesce(julianday(last_seen) < julianday(?1), true))";

/// How long SQLite waits for another connection's write lock, as 1.x's `_busy_timeout=5000`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a caller waits for a pooled connection. It matches [`BUSY_TIMEOUT`]: a request should
/// not wait longer for a connection than SQLite would wait for the lock, and a wedged database
/// should surface as errors within seconds rather than as requests piling up for sqlx's default
/// 30 s.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite's page cache per connection, in KiB (SQLite's default is 2,000). The operating system
/// caches the file anyway, so a larger cache saves little but system calls, while it stays
/// resident in every pooled connection once a directory reload has scanned the table or the
/// `last_seen` writer has touched rows all over it: with the default, 100,000 agents cost several
/// megabytes more. 512 KiB is about what the interior pages of that database's B-trees take (125
/// pages), so a lookup by id or host name still walks down the tree from memory.
const PAGE_CACHE_KIB: u32 = 512;

/// Connections to a file database. SQLite has one writer at a time anyway; four lets the auth
/// path's directory reloads and the dashboard's reads run beside a write without many idle files.
/// One per core, up to three, stays open for the dashboard's reads in parts ([`Split`]).
const FILE_POOL_SIZE: u32 = 4;

/// A SQLite database behind a connection pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// How reads over every agent are split over the pool's connections.
    split: Split,
    /// The file and how to open it; `None` for `:memory:`. Boxed: SQLite's connect options are
    /// large, and every `Store` would otherwise be as large as they are, a PostgreSQL one too.
    file: Option<Box<FileDatabase>>,
}

// === impl SqliteStore ===

impl SqliteStore {
    /// Opens the database file at `path`, or a private in-memory database for `None`, and
    /// brings its schema up to date.
    pub(super) async fn open(path: Option<&Path>) -> Result<Self, StoreError> {
        let store = match path {
            Some(path) => Self::open_file(path).await?,
            None => Self::open_memory().await?,
        };
        schema::migrate(&store.pool).await?;
        Ok(store)
    }

    async fn open_file(path: &Path) -> Result<Self, StoreError> {
        // SQLite would say only "unable to open database file"; name the directory instead, and
        // do not create it: a missing directory means a wrong path or an unmounted volume.
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
            && !tokio::fs::metadata(dir).await.is_ok_and(|m| m.is_dir())
        {
            return Err(UriError::MissingDirectory(dir.to_owned()).into());
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("cache_size", format!("-{PAGE_CACHE_KIB}"));
        let split = Split::for_pool(FILE_POOL_SIZE);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_POOL_SIZE)
            .min_connections(split.connections())
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|source| open_error(path, source))?;
        Ok(SqliteStore {
            pool,
            split,
            file: Some(Box::new(FileDatabase {
                path: path.to_owned(),
                options,
            })),
        })
    }

    async fn open_memory() -> Result<Self, StoreError> {
        // The default filename is `:memory:`: a private database owned by its one connection,
        // which therefore must never be closed for idleness or age.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(SqliteConnectOptions::new())
            .await
            .map_err(|source| open_error(Path::new(":memory:"), source))?;
        Ok(SqliteStore {
            pool,
            split: Split::NEVER,
            file: None,
        })
    }

    pub(super) async fn insert_agent(
        &self,
        rid: &AgentRid,
        spec: &AgentSpec,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        let now = format_time(OffsetDateTime::now_utc())?;
        // `registered_at` is left to the column default, SQLite's UTC clock, as in 1.x.
        let insert = sqlx::query(
            "INSERT INTO agents (created_at, updated_at, active, hostname, log_sources, metrics, \
             metrics_targets, profiles, resource_id, labels, node) \
             VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&now)
        .bind(&now)
        .bind(&spec.hostname)
        .bind(log_sources_column(&spec.log_sources)?)
        .bind(spec.metrics)
        .bind(encode_list(&spec.metrics_targets)?)
        .bind(spec.profiles)
        .bind(rid.as_str())
        .bind(labels_column(&spec.labels)?)
        .bind(spec.node.as_str());
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        insert.execute(&mut *tx).await.map_err(map_sqlx)?;
        commit_agent(tx, rid).await
    }

    pub(super) async fn update_agent(
        &self,
        rid: &AgentRid,
        changes: &AgentChanges,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        refuse_empty(rid)?;
        let now = format_time(OffsetDateTime::now_utc())?;
        let update = sqlx::query(
            "UPDATE agents SET log_sources = ?, metrics = ?, metrics_targets = ?, profiles = ?, \
             labels = ?, updated_at = ? WHERE resource_id = ?",
        )
        .bind(log_sources_column(&changes.log_sources)?)
        .bind(changes.metrics)
        .bind(encode_list(&changes.metrics_targets)?)
        .bind(changes.profiles)
        .bind(labels_column(&changes.labels)?)
        .bind(&now)
        .bind(rid.as_str());
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        let done = update.execute(&mut *tx).await.map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        commit_agent(tx, rid).await
    }

    pub(super) async fn delete_agent(&self, rid: &AgentRid) -> Result<ChangeVersion, StoreError> {
        backend::delete_agent(&self.pool, rid).await
    }

    pub(super) async fn get_agent(&self, rid: &AgentRid) -> Result<Agent, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        select_agent(&mut conn, rid)
            .await?
            .ok_or(StoreError::NotFound)
    }

    pub(super) async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        let query = format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id");
        backend::collect_rows(&self.pool, &query, rows::agent_from_row).await
    }

    pub(super) async fn list_agent_summaries(&self) -> Result<Vec<AgentSummary>, StoreError> {
        let query = "SELECT CAST(resource_id AS TEXT), CAST(hostname AS TEXT) FROM agents \
                     WHERE resource_id <> '' ORDER BY id";
        backend::collect_rows(&self.pool, query, rows::summary_from_row).await
    }

    pub(super) async fn change_version(&self) -> Result<ChangeVersion, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
        read_version(&mut *conn).await
    }

    pub(super) async fn directory_snapshot(
        &self,
        mut each: impl FnMut(DirectoryRow) + Send,
    ) -> Result<ChangeVersion, StoreError> {
        // One read transaction: in WAL mode it sees a single snapshot of the database, so the
        // rows are exactly those the version describes.
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        let version = read_version(&mut *tx).await?;
        // Rows are handed on as they stream in: collecting 100,000 of them first would cost
        // more than the directory they become, and the allocator keeps what it once grew to.
        let query = format!("SELECT {DIRECTORY_COLUMNS} FROM agents ORDER BY id");
        backend::for_each_row(&mut *tx, &query, |row| {
            if let Some(row) = rows::directory_row(row)? {
                each(row);
            }
            Ok(())
        })
        .await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(version)
    }

    pub(super) async fn import_agents(
        &self,
        agents: &[Agent],
        replace: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        import::write_agents(&mut *tx, agents, replace).await?;
        tx.commit().await.map_err(map_sqlx)
    }

    pub(super) async fn directory_rows(
        &self,
        rids: &[String],
    ) -> Result<Vec<DirectoryRow>, StoreError> {
        let query = format!(
            "SELECT {DIRECTORY_COLUMNS} FROM agents \
             WHERE resource_id IN (SELECT value FROM json_each(?)) ORDER BY id"
        );
        let rids = serde_json::to_string(rids).map_err(|e| StoreError::Database(Box::new(e)))?;
        let found = sqlx::query(&query)
            .bind(rids)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let mut rows = Vec::with_capacity(found.len());
        for row in &found {
            rows.extend(rows::directory_row(row)?);
        }
        Ok(rows)
    }

    pub(super) async fn record_last_seen<P>(
        &self,
        parts: impl IntoIterator<Item = P, IntoIter: Send>,
    ) -> Result<(), StoreError>
    where
        P: AsRef<[(AgentRid, OffsetDateTime)]> + Send,
    {
        let mut parts = parts.into_iter().peekable();
        if parts.peek().is_none() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        for part in parts {
            // Marks arrive in batches that mostly share a handful of seconds: one statement per
            // second, instead of one per agent, keeps a fleet-wide burst of marks to a few
            // statements.
            let mut by_time: Vec<(OffsetDateTime, &str)> = part
                .as_ref()
                .iter()
                .filter(|(rid, _)| !rid.as_str().is_empty())
                .map(|(rid, at)| (*at, rid.as_str()))
                .collect();
            by_time.sort_unstable();
            for same_time in by_time.chunk_by(|a, b| a.0 == b.0) {
                let at = format_time(same_time[0].0)?;
                let rids: Vec<&str> = same_time.iter().map(|(_, rid)| *rid).collect();
                let rids =
                    serde_json::to_string(&rids).map_err(|e| StoreError::Database(Box::new(e)))?;
                sqlx::query(RECORD_LAST_SEEN)
                    .bind(&at)
                    .bind(rids)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
            }
        }
        tx.commit().await.map_err(map_sqlx)
    }

    pub(super) async fn page_agents(&self, query: &AgentQuery) -> Result<AgentPage, StoreError> {
        page::page_agents(&self.pool, self.split, query).await
    }

    pub(super) async fn agent_stats(
        &self,
        scope: &AgentScope,
        active_since: OffsetDateTime,
    ) -> Result<AgentStats, StoreError> {
        page::counters::agent_stats(&self.pool, self.split, scope, active_since).await
    }

    pub(super) async fn health_check(&self) -> Result<(), StoreError> {
        health::health_check(&self.pool, self.file.as_deref()).await
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

/// Formats a timestamp for a `datetime` column.
fn format_time(at: OffsetDateTime) -> Result<String, StoreError> {
    timestamp::format(at).map_err(|e| StoreError::Database(Box::new(e)))
}

/// Commits a write of the agent `rid`, returning the agent as written and the change version
/// the write produced.
async fn commit_agent(
    mut tx: Transaction<'_, Sqlite>,
    rid: &AgentRid,
) -> Result<(Agent, ChangeVersion), StoreError> {
    let agent = select_agent(&mut tx, rid)
        .await?
        .ok_or(StoreError::NotFound)?;
    let version = read_version(&mut *tx).await?;
    tx.commit().await.map_err(map_sqlx)?;
    Ok((agent, version))
}

/// Reads one agent by resource id; an empty id never matches (see [`refuse_empty`]).
async fn select_agent(
    conn: &mut SqliteConnection,
    rid: &AgentRid,
) -> Result<Option<Agent>, StoreError> {
    if rid.as_str().is_empty() {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE resource_id = ?"
    ))
    .bind(rid.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(map_sqlx)?;
    row.as_ref().map(rows::agent_from_row).transpose()
}
