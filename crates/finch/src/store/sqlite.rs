//! The SQLite store.

use time::OffsetDateTime;

use super::{ChangeVersion, DatabaseTarget, DirectorySnapshot, StoreError};
use crate::agents::{Agent, AgentChanges, AgentRid, AgentSpec};

/// A SQLite database behind a connection pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    pub(super) async fn open(target: &DatabaseTarget) -> Result<Self, StoreError> {
        let _ = target;
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        Ok(SqliteStore { pool })
    }

    pub(super) async fn insert_agent(
        &self,
        rid: &AgentRid,
        spec: &AgentSpec,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        let _ = (rid, spec);
        Err(StoreError::NotFound)
    }

    pub(super) async fn update_agent(
        &self,
        rid: &AgentRid,
        changes: &AgentChanges,
    ) -> Result<(Agent, ChangeVersion), StoreError> {
        let _ = (rid, changes);
        Err(StoreError::NotFound)
    }

    pub(super) async fn delete_agent(&self, rid: &AgentRid) -> Result<ChangeVersion, StoreError> {
        let _ = rid;
        Err(StoreError::NotFound)
    }

    pub(super) async fn get_agent(&self, rid: &AgentRid) -> Result<Agent, StoreError> {
        let _ = rid;
        Err(StoreError::NotFound)
    }

    pub(super) async fn list_agents(&self) -> Result<Vec<Agent>, StoreError> {
        Ok(Vec::new())
    }

    pub(super) async fn change_version(&self) -> Result<ChangeVersion, StoreError> {
        Ok(ChangeVersion(0))
    }

    pub(super) async fn directory_snapshot(&self) -> Result<DirectorySnapshot, StoreError> {
        Ok(DirectorySnapshot::default())
    }

    pub(super) async fn record_last_seen(
        &self,
        seen: &[(AgentRid, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        let _ = seen;
        Ok(())
    }

    pub(super) async fn health_check(&self) -> Result<(), StoreError> {
        Ok(())
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}
