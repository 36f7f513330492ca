//! The agent registry: the one way Finch changes agents.
//!
//! Every write goes to the store and then to the [`Directory`] under the directory's write lock,
//! so that `/auth` sees the change before the caller gets its answer. Reads go to the store.
//! The gRPC control plane and the dashboard both work through this type.

use crate::agents::{Agent, AgentChanges, AgentRid, AgentSpec};
use crate::directory::Directory;
use crate::store::{AgentSummary, DirectoryRow, Store, StoreError};

/// Agents, stored and live.
#[derive(Clone, Debug)]
pub struct Registry {
    store: Store,
    directory: Directory,
    service_id: String,
}

// === impl Registry ===

impl Registry {
    /// A registry over `store` whose new agents get resource ids of service `service_id`.
    pub fn new(store: Store, directory: Directory, service_id: String) -> Registry {
        Registry {
            store,
            directory,
            service_id,
        }
    }

    /// Registers a new agent under a fresh resource id.
    pub async fn register(&self, spec: &AgentSpec) -> Result<Agent, StoreError> {
        let rid = AgentRid::mint(&self.service_id);
        let mut writer = self.directory.lock().await;
        let (agent, version) = self.store.insert_agent(&rid, spec).await?;
        writer.apply_upsert(directory_row(&agent), version);
        Ok(agent)
    }

    /// Replaces an agent's mutable fields.
    pub async fn update(
        &self,
        rid: &AgentRid,
        changes: &AgentChanges,
    ) -> Result<Agent, StoreError> {
        let mut writer = self.directory.lock().await;
        let (agent, version) = self.store.update_agent(rid, changes).await?;
        writer.apply_upsert(directory_row(&agent), version);
        Ok(agent)
    }

    /// Removes an agent; its tokens are refused from the next request on.
    pub async fn deregister(&self, rid: &AgentRid) -> Result<(), StoreError> {
        let mut writer = self.directory.lock().await;
        let version = self.store.delete_agent(rid).await?;
        writer.apply_remove(rid, version);
        Ok(())
    }

    /// Reads one agent.
    pub async fn get(&self, rid: &AgentRid) -> Result<Agent, StoreError> {
        self.store.get_agent(rid).await
    }

    /// Reads every agent, in registration order.
    pub async fn list(&self) -> Result<Vec<Agent>, StoreError> {
        self.store.list_agents().await
    }

    /// Reads every agent's resource id and host name, in registration order.
    pub async fn list_summaries(&self) -> Result<Vec<AgentSummary>, StoreError> {
        self.store.list_agent_summaries().await
    }

    /// The live view used by `/auth`.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The service id new resource ids carry.
    pub fn service_id(&self) -> &str {
        &self.service_id
    }
}

fn directory_row(agent: &Agent) -> DirectoryRow {
    DirectoryRow {
        rid: agent.rid.clone(),
        metrics: agent.metrics,
        profiles: agent.profiles,
    }
}
