//! The PostgreSQL backend of the store, for teams that run several Finch replicas on one
//! database. [`PostgresStore`] opens the pool and runs the agents' reads and writes; below it sit
//! the schema and its migrations (`schema.rs`), the search (`search.rs`), the dashboard's pages
//! and counters (`page.rs`), reading rows (`rows.rs`) and the mapping of sqlx's errors to
//! `StoreError` (`error.rs`). Nothing here is seen above the store.
//!
//! The URI is handed to sqlx's `PgConnectOptions`, which reads what libpq users write: host,
//! port, user, password, database, and `sslmode`/`sslrootcert`/`sslcert`/`sslkey` for TLS.
//!
//! Every write runs in one transaction that also reads the change version the write produced:
//! the trigger's update of the counter row holds that row's lock until commit, so concurrent
//! writers (from any replica) take turns and each reads exactly its own version. Reads of many
//! rows (the directory's snapshot, a dashboard page) run in a read-only `REPEATABLE READ`
//! transaction, so what they return is one snapshot. `last_seen` batches from several replicas
//! only ever move a timestamp forwards (`GREATEST`), and lock their rows in id order so two
//! batches cannot deadlock.

use std::collections::HashMap;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use time::OffsetDateTime;

use self::error::{PostgresError, map_sqlx};
use self::rows::{AGENT_COLUMNS, DIRECTORY_COLUMNS};
use crate::agents::{Agent, AgentChanges, AgentRid, AgentSpec};
use crate::store::backend::{self, read_version};
use crate::store::columns::{encode_list, labels_column, log_sources_column};
use crate::store::error::{StoreError, refuse_empty};
use crate::store::page::{AgentPage, AgentQuery, AgentScope, AgentStats};
use crate::store::records::{AgentSummary, ChangeVersion, DirectoryRow};
use crate::store::uri::{UriError, mask_password};

pub use self::listen::ChangeFeed;

mod error;
mod import;
mod listen;
mod page;
mod rows;
mod schema;
mod search;

/// Connections per replica. The dashboard's reads, the directory's reloads and the control
/// plane's writes run side by side; ten per replica keeps a few replicas well inside
/// PostgreSQL's default `max_connections` of 100.
const POOL_SIZE: u32 = 10;

/// How long a caller waits for a pooled connection, a new one included (sqlx bounds the connect
/// by it). As SQLite's: a database that does not answer surfaces as `Unavailable` within seconds
/// rather than as requests piling up for sqlx's default 30 s.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The budget of a health check, as 1.x's healthz and SQLite's.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// Sets `last_seen` of the agents in `$1` to the matching time in `$2` where that is later,
/// locking the rows in id order first: two replicas' batches then wait for each other instead
/// of deadlocking, and the later mark wins whichever commits last.
const RECORD_LAST_SEEN: &str = "WITH seen AS (SELECT * FROM unnest($1::text[], $2::timestamptz[]) \
     AS s(rid, at)), \
     locked AS (SELECT a.id, seen.at FROM agents a JOIN seen ON a.resource_id = seen.rid \
     ORDER BY a.id FOR UPDATE OF a) \
     UPDATE agents SET last_seen = GREATEST(agents.last_seen, locked.at) FROM locked \
     WHERE agents.id = locked.id \
     AND (agents.last_seen IS NULL OR agents.last_seen < locked.at)";

/// A PostgreSQL database behind a connection pool.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// The most matches a dashboard page reads the ids of at once ([`page::IDS_AT_ONCE`]).
    ids_at_once: u32,
}

// === impl PostgresStore ===

impl PostgresStore {
    /// Connects to the database `uri` names and brings its schema up to date.
    pub(super) async fn open(uri: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(uri).map_err(|e| UriError::InvalidPostgres {
            uri: mask_password(uri),
            reason: e.to_string(),
        })?;
        // Named in `pg_stat_activity`, unless the URI names it otherwise.
        let options = match options.get_application_name() {
            Some(_) => options,
            None => options.application_name("finch"),
        };
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        schema::migrate(&pool).await?;
        Ok(PostgresStore {
            pool,
            ids_at_once: page::IDS_AT_ONCE,
        })
    }

    /// The same store, reading the ids of at most `ids_at_once` matches at once, so that tests
    /// reach the walk of many matches with a few agents.
    #[cfg(test)]
    pub(in crate::store) fn with_ids_at_once(self, ids_at_once: u32) -> Self {
        PostgresStore {
            ids_at_once,
            ..self
        }
    }

    pub(super) async fn insert_agent(
        &self,
        rid: &AgentRid,
        spec: &AgentSpec,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        // `registered_at` is left to the column default, the database's clock, as in 1.x.
        let insert = format!(
            "INSERT INTO agents (created_at, updated_at, active, hostname, log_sources, metrics, \
             metrics_targets, profiles, resource_id, labels, node) \
             VALUES ($1, $1, true, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {AGENT_COLUMNS}"
        );
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        let row = sqlx::query(&insert)
            .bind(OffsetDateTime::now_utc())
            .bind(&spec.hostname)
            .bind(log_sources_column(&spec.log_sources)?)
            .bind(spec.metrics)
            .bind(encode_list(&spec.metrics_targets)?)
            .bind(spec.profiles)
            .bind(rid.as_str())
            .bind(labels_column(&spec.labels)?)
            .bind(spec.node.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let agent = rows::agent_from_row(&row)?;
        let version = read_version(&mut *tx).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok((agent, version))
    }

    pub(super) async fn update_agent(
        &self,
        rid: &AgentRid,
        changes: &AgentChanges,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        refuse_empty(rid)?;
        let update = format!(
            "UPDATE agents SET log_sources = $1, metrics = $2, metrics_targets = $3, \
             profiles = $4, labels = $5, updated_at = $6 WHERE resource_id = $7 \
             RETURNING {AGENT_COLUMNS}"
        );
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        let row = sqlx::query(&update)
            .bind(log_sources_column(&changes.log_sources)?)
            .bind(changes.metrics)
            .bind(encode_list(&changes.metrics_targets)?)
            .bind(changes.profiles)
            .bind(labels_column(&changes.labels)?)
            .bind(OffsetDateTime::now_utc())
            .bind(rid.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?
            .ok_or(StoreError::NotFound)?;
        let agent = rows::agent_from_row(&row)?;
        let version = read_version(&mut *tx).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok((agent, version))
    }

    pub(super) async fn delete_agent(&self, rid: &AgentRid) -> Result<ChangeVersion, StoreError> {
        backend::delete_agent(&self.pool, rid).await
    }

    pub(super) async fn get_agent(&self, rid: &AgentRid) -> Result<Agent, StoreError> {
        refuse_empty(rid)?;
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE resource_id = $1"
        ))
        .bind(rid.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(map_sqlx)?
        .ok_or(StoreError::NotFound)?;
        rows::agent_from_row(&row)
    }

    pub(super) async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        let query = format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY id");
        backend::collect_rows(&self.pool, &query, rows::agent_from_row).await
    }

    pub(super) async fn list_agent_summaries(&self) -> Result<Vec<AgentSummary>, StoreError> {
        let query = "SELECT resource_id, hostname FROM agents WHERE resource_id <> '' ORDER BY id";
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
        let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let version = read_version(&mut *tx).await?;
        let query =
            format!("SELECT {DIRECTORY_COLUMNS} FROM agents WHERE resource_id <> '' ORDER BY id");
        backend::for_each_row(&mut *tx, &query, |row| {
            each(rows::directory_row(row)?);
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
        import::import_agents(&self.pool, agents, replace).await
    }

    pub(super) async fn directory_rows(
        &self,
        rids: &[String],
    ) -> Result<Vec<DirectoryRow>, StoreError> {
        let query = format!(
            "SELECT {DIRECTORY_COLUMNS} FROM agents \
             WHERE resource_id = ANY($1) AND resource_id <> '' ORDER BY id"
        );
        let found = sqlx::query(&query)
            .bind(rids)
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        found.iter().map(rows::directory_row).collect()
    }

    pub(super) async fn change_feed(&self) -> Result<ChangeFeed, StoreError> {
        ChangeFeed::open(&self.pool).await
    }

    pub(super) async fn record_last_seen<P>(
        &self,
        parts: impl IntoIterator<Item = P, IntoIter: Send>,
    ) -> Result<(), StoreError>
    where
        P: AsRef<[(AgentRid, OffsetDateTime)]> + Send,
    {
        // One statement for the whole batch: its rows are locked in one id order, which parts
        // locked one after the other would not give. The latest mark of each agent is kept.
        let mut latest: HashMap<String, OffsetDateTime> = HashMap::new();
        for part in parts {
            for (rid, at) in part.as_ref() {
                if rid.as_str().is_empty() {
                    continue;
                }
                let entry = latest.entry(rid.as_str().to_owned()).or_insert(*at);
                *entry = (*entry).max(*at);
            }
        }
        if latest.is_empty() {
            return Ok(());
        }
        let (rids, times): (Vec<String>, Vec<OffsetDateTime>) = latest.into_iter().unzip();
        sqlx::query(RECORD_LAST_SEEN)
            .bind(rids)
            .bind(times)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(map_sqlx)
    }

    pub(super) async fn page_agents(&self, query: &AgentQuery) -> Result<AgentPage, StoreError> {
        page::page_agents(&self.pool, query, self.ids_at_once).await
    }

    pub(super) async fn agent_stats(
        &self,
        scope: &AgentScope,
        active_since: OffsetDateTime,
    ) -> Result<AgentStats, StoreError> {
        page::agent_stats(&self.pool, scope, active_since).await
    }

    /// Pings and runs a write probe (an update of no row, rolled back) within one second: a
    /// read-only standby, which a failover can leave Finch connected to, fails it.
    pub(super) async fn health_check(&self) -> Result<(), StoreError> {
        let probe = async {
            let mut tx = self.pool.begin().await.map_err(map_sqlx)?;
            sqlx::query("UPDATE agents SET resource_id = resource_id WHERE false")
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            tx.rollback().await.map_err(map_sqlx)
        };
        tokio::time::timeout(HEALTH_TIMEOUT, probe)
            .await
            .map_err(|_| PostgresError::HealthTimeout(HEALTH_TIMEOUT))?
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}
