//! The agent store: one API over the databases Finch supports.
//!
//! [`Store`] is the API the rest of Finch uses; each variant is a backend in a module of its own
//! (`sqlite/`, `postgres/`) that maps its driver's errors to [`StoreError`] at its own boundary.
//! What every backend shares sits up here, above them: the error type, the page and search
//! request and answer (`page.rs`), the records the API returns (`records.rs`), how list columns
//! are written and read (`columns.rs`), the statements both SQL backends run alike
//! (`backend.rs`, `import.rs`) and the database URI that picks a backend (`uri.rs`). A backend
//! imports from these and never from this module, and this module only dispatches, so no two
//! modules import each other.
//!
//! SQLite is the default (`sqlite://finch.db`, relative to the library directory). Its schema is
//! Finch 1.x's `agents` table, column for column, so that a 1.x database opens and works;
//! `sqlite/schema.rs` holds the legacy migrations. PostgreSQL (`postgres://…`) serves several
//! Finch replicas on one database, with the same table (`postgres/schema.rs`).
//!
//! Besides the table, the store keeps a *change version*: a counter that every insert, delete
//! and relevant update of `agents` bumps, by trigger, whoever the writer is (this Finch, a second
//! replica, an operator's `sqlite3`). The agent directory polls it to notice foreign changes
//! cheaply; writes made through Finch return the version they produced so the directory can tell
//! its own changes from foreign ones. PostgreSQL also announces each change with its version
//! and resource ids ([`ChangeFeed`]), so that replicas apply one another's changes at once.

mod backend;
mod columns;
mod error;
mod import;
mod page;
mod postgres;
mod records;
mod sqlite;
#[cfg(test)]
mod tests;
mod uri;

pub use error::StoreError;
pub use page::{AgentPage, AgentQuery, AgentScope, AgentStats};
pub use postgres::ChangeFeed;
pub use records::{AgentSummary, ChangeNotice, ChangeVersion, DirectoryRow};
pub use uri::{DatabaseTarget, UriError};

use std::path::Path;

use time::OffsetDateTime;

use crate::agents::{Agent, AgentChanges, AgentRid, AgentSpec};

/// The agent store. Cheap to clone: every variant holds a connection pool.
#[derive(Clone, Debug)]
pub enum Store {
    /// SQLite, one file (or `:memory:`).
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL, possibly shared by several Finch replicas.
    Postgres(postgres::PostgresStore),
}

// === impl Store ===

impl Store {
    /// Opens the database named by `uri` (as in `finch.json`), resolving relative SQLite paths
    /// against `library_dir`, and brings the schema up to date.
    pub async fn open(uri: &str, library_dir: &Path) -> Result<Store, StoreError> {
        match DatabaseTarget::parse(uri, library_dir)? {
            DatabaseTarget::SqliteFile(path) => {
                Ok(Store::Sqlite(sqlite::SqliteStore::open(Some(&path)).await?))
            }
            DatabaseTarget::SqliteMemory => {
                Ok(Store::Sqlite(sqlite::SqliteStore::open(None).await?))
            }
            DatabaseTarget::Postgres(uri) => {
                Ok(Store::Postgres(postgres::PostgresStore::open(&uri).await?))
            }
        }
    }

    /// Stores a new agent under a fresh resource id.
    pub async fn insert_agent(
        &self,
        rid: &AgentRid,
        spec: &AgentSpec,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        match self {
            Store::Sqlite(s) => s.insert_agent(rid, spec).await,
            Store::Postgres(s) => s.insert_agent(rid, spec).await,
        }
    }

    /// Replaces the mutable fields of an agent.
    pub async fn update_agent(
        &self,
        rid: &AgentRid,
        changes: &AgentChanges,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        match self {
            Store::Sqlite(s) => s.update_agent(rid, changes).await,
            Store::Postgres(s) => s.update_agent(rid, changes).await,
        }
    }

    /// Deletes an agent.
    pub async fn delete_agent(&self, rid: &AgentRid) -> Result<ChangeVersion, StoreError> {
        match self {
            Store::Sqlite(s) => s.delete_agent(rid).await,
            Store::Postgres(s) => s.delete_agent(rid).await,
        }
    }

    /// Reads one agent.
    pub async fn get_agent(&self, rid: &AgentRid) -> Result<Agent, StoreError> {
        match self {
            Store::Sqlite(s) => s.get_agent(rid).await,
            Store::Postgres(s) => s.get_agent(rid).await,
        }
    }

    /// Reads every agent, in registration order.
    pub async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        match self {
            Store::Sqlite(s) => s.list_agents().await,
            Store::Postgres(s) => s.list_agents().await,
        }
    }

    /// Reads every agent's resource id and host name, in registration order: a listing that
    /// stays small at 100,000 agents.
    pub async fn list_agent_summaries(&self) -> Result<Vec<AgentSummary>, StoreError> {
        match self {
            Store::Sqlite(s) => s.list_agent_summaries().await,
            Store::Postgres(s) => s.list_agent_summaries().await,
        }
    }

    /// Reads the current change version.
    pub async fn change_version(&self) -> Result<ChangeVersion, StoreError> {
        match self {
            Store::Sqlite(s) => s.change_version().await,
            Store::Postgres(s) => s.change_version().await,
        }
    }

    /// Reads what the directory needs of every agent in one transaction, handing each row to
    /// `each` as it arrives (a fleet's rows are never held at once), and returns the change
    /// version the rows reflect. On an error, `each` may have seen some of the rows.
    pub async fn directory_snapshot(
        &self,
        each: impl FnMut(DirectoryRow) + Send,
    ) -> Result<ChangeVersion, StoreError> {
        match self {
            Store::Sqlite(s) => s.directory_snapshot(each).await,
            Store::Postgres(s) => s.directory_snapshot(each).await,
        }
    }

    /// Stores whole agent records (resource id, registration time and last mark kept), in one
    /// transaction and in their order, after deleting every agent when `replace`: a registry
    /// copied from another database (`finch migrate`).
    pub async fn import_agents(&self, agents: &[Agent], replace: bool) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.import_agents(agents, replace).await,
            Store::Postgres(s) => s.import_agents(agents, replace).await,
        }
    }

    /// Reads what the directory needs of the agents among `rids` that exist (and are visible).
    pub async fn directory_rows(&self, rids: &[String]) -> Result<Vec<DirectoryRow>, StoreError> {
        match self {
            Store::Sqlite(s) => s.directory_rows(rids).await,
            Store::Postgres(s) => s.directory_rows(rids).await,
        }
    }

    /// Subscribes to the changes the database announces, on a connection of its own; `None`
    /// for a database that announces none (SQLite), whose changes are found by polling the
    /// change version.
    pub async fn change_feed(&self) -> Result<Option<ChangeFeed>, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(s) => s.change_feed().await.map(Some),
        }
    }

    /// Whether [`Store::change_feed`] gives a feed.
    pub fn announces_changes(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// Records when agents were last seen, in one transaction. Does not bump the change version.
    /// A mark never moves a timestamp backwards, whatever order batches arrive in.
    pub async fn record_last_seen(
        &self,
        seen: &[(AgentRid, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        self.record_last_seen_in_parts([seen]).await
    }

    /// Records when agents were last seen, part after part, in one transaction: a large batch
    /// need not be held in memory whole, and still touches each database page once.
    pub async fn record_last_seen_in_parts<P>(
        &self,
        parts: impl IntoIterator<Item = P, IntoIter: Send>,
    ) -> Result<(), StoreError>
    where
        P: AsRef<[(AgentRid, OffsetDateTime)]> + Send,
    {
        match self {
            Store::Sqlite(s) => s.record_last_seen(parts).await,
            Store::Postgres(s) => s.record_last_seen(parts).await,
        }
    }

    /// Checks that the database answers and accepts writes (a write probe that is rolled back).
    pub async fn health_check(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.health_check().await,
            Store::Postgres(s) => s.health_check().await,
        }
    }

    /// Reads one page of the agents `query` selects, with their count.
    pub async fn page_agents(&self, query: &AgentQuery) -> Result<AgentPage, StoreError> {
        match self {
            Store::Sqlite(s) => s.page_agents(query).await,
            Store::Postgres(s) => s.page_agents(query).await,
        }
    }

    /// Counts the agents in `scope`; those last seen at or after `active_since` are active.
    pub async fn agent_stats(
        &self,
        scope: &AgentScope,
        active_since: OffsetDateTime,
    ) -> Result<AgentStats, StoreError> {
        match self {
            Store::Sqlite(s) => s.agent_stats(scope, active_since).await,
            Store::Postgres(s) => s.agent_stats(scope, active_since).await,
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}
