//! The agent directory: the in-memory set of live agents that answers `/auth` without I/O.
//!
//! Reads are lock-free at the top (an [`ArcSwap`] of the current map) and take only a shard read
//! lock inside the map, so a ForwardAuth check costs a hash lookup. The directory is kept in step
//! with the store in two ways:
//!
//! - **Writes made through Finch** ([`crate::registry::Registry`]) change the store and then this
//!   map while holding the directory's write lock, before they return. A deregistered agent is
//!   therefore refused on its very next request.
//! - **Writes by anyone else** (a second Finch, an operator's `sqlite3`) bump the store's change
//!   version; [`Directory::spawn_watcher`] polls it and reloads the whole map when it moved for a
//!   reason this process did not cause. The poll interval bounds how long a foreign change takes
//!   to be seen.
//!
//! Every write path holds the same async mutex, so a reload can never swap in rows read before an
//! own write that has already been applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use dashmap::DashMap;
use tokio::sync::{Mutex, MutexGuard, broadcast};
use tokio_util::sync::CancellationToken;

use crate::agents::AgentRid;
use crate::store::{ChangeVersion, DirectoryRow, Store, StoreError};

/// How often the store's change version is polled. Foreign changes are seen within this plus the
/// time of one reload, comfortably under the one second Finch promises.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The live agents, shared by every request handler.
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

/// What the auth path knows of one agent: as little as it needs, because there is one per agent
/// (at 100,000 agents every byte here is 100 kB of resident memory).
#[derive(Debug)]
pub struct DirectoryEntry {
    /// The agent's resource id, shared with the map's key.
    rid: Arc<str>,
    /// May push metrics.
    pub metrics: bool,
    /// May push profiles.
    pub profiles: bool,
    /// When this process last queued a `last_seen` write for the agent (Unix seconds).
    last_marked: AtomicI64,
}

/// A change to the set of agents, for live views such as the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryEvent {
    /// An agent was registered through this process.
    Registered(AgentRid),
    /// An agent was updated through this process.
    Updated(AgentRid),
    /// An agent was deregistered through this process.
    Deregistered(AgentRid),
    /// The directory was reloaded after a change by another writer.
    Reloaded,
}

/// Exclusive access for a writer; see [`Directory::lock`].
pub struct DirectoryWriter<'a> {
    directory: &'a Directory,
    applied: MutexGuard<'a, ChangeVersion>,
}

type AgentMap = DashMap<Arc<str>, Arc<DirectoryEntry>>;

struct Inner {
    agents: ArcSwap<AgentMap>,
    /// The change version the map reflects completely.
    applied: Mutex<ChangeVersion>,
    events: broadcast::Sender<DirectoryEvent>,
}

/// Room for bursts of changes before a slow subscriber lags (and is told so).
const EVENT_CAPACITY: usize = 1024;

// === impl Directory ===

impl Directory {
    /// Loads every agent from `store`.
    pub async fn load(store: &Store) -> Result<Directory, StoreError> {
        let snapshot = store.directory_snapshot().await?;
        let agents = AgentMap::with_capacity(snapshot.rows.len());
        for row in snapshot.rows {
            let entry = Arc::new(DirectoryEntry::from_row(row));
            agents.insert(Arc::clone(&entry.rid), entry);
        }
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(Directory {
            inner: Arc::new(Inner {
                agents: ArcSwap::from_pointee(agents),
                applied: Mutex::new(snapshot.version),
                events,
            }),
        })
    }

    /// The agent with resource id `rid`, if it is registered. Never matches an empty id.
    pub fn lookup(&self, rid: &str) -> Option<Arc<DirectoryEntry>> {
        if rid.is_empty() {
            return None;
        }
        self.inner.agents.load().get(rid).map(|e| Arc::clone(&e))
    }

    /// How many agents are registered.
    pub fn len(&self) -> usize {
        self.inner.agents.load().len()
    }

    /// Whether no agent is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Subscribes to changes.
    pub fn subscribe(&self) -> broadcast::Receiver<DirectoryEvent> {
        self.inner.events.subscribe()
    }

    /// Takes the write lock. Hold it across the store write and the matching `apply_*` call.
    pub async fn lock(&self) -> DirectoryWriter<'_> {
        DirectoryWriter {
            directory: self,
            applied: self.inner.applied.lock().await,
        }
    }

    /// Re-reads the store if its change version differs from what the map reflects.
    /// Returns whether a reload happened.
    pub async fn refresh(&self, store: &Store) -> Result<bool, StoreError> {
        let current = store.change_version().await?;
        if current == *self.inner.applied.lock().await {
            return Ok(false);
        }
        let mut writer = self.lock().await;
        // A write through this process may have applied the change while we waited for the
        // lock; only a version still unexplained is worth a full reload.
        if store.change_version().await? == *writer.applied {
            return Ok(false);
        }
        let snapshot = store.directory_snapshot().await?;
        writer.replace_all(snapshot.rows);
        *writer.applied = snapshot.version;
        drop(writer);
        let _ = self.inner.events.send(DirectoryEvent::Reloaded);
        Ok(true)
    }

    /// Polls the store every `interval` until `shutdown`, reloading after foreign changes.
    pub fn spawn_watcher(
        &self,
        store: Store,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let directory = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                match directory.refresh(&store).await {
                    Ok(reloaded) => {
                        if failing {
                            tracing::info!("agent directory is in step with the database again");
                            failing = false;
                        }
                        if reloaded {
                            tracing::debug!(
                                agents = directory.len(),
                                "agent directory reloaded after a change by another writer"
                            );
                        }
                    }
                    Err(error) if !failing => {
                        failing = true;
                        tracing::error!(
                            %error,
                            "cannot poll the database for agent changes; /auth answers from the last known agents"
                        );
                    }
                    Err(_) => {}
                }
            }
        })
    }
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("agents", &self.len())
            .finish_non_exhaustive()
    }
}

// === impl DirectoryWriter ===

impl DirectoryWriter<'_> {
    /// Records an agent stored at change version `version`.
    pub fn apply_upsert(&mut self, row: DirectoryRow, version: ChangeVersion) {
        let rid = row.rid.clone();
        let entry = Arc::new(DirectoryEntry::from_row(row));
        let agents = self.directory.inner.agents.load();
        let existed = agents.insert(Arc::clone(&entry.rid), entry).is_some();
        self.advance(version);
        let event = if existed {
            DirectoryEvent::Updated(rid)
        } else {
            DirectoryEvent::Registered(rid)
        };
        let _ = self.directory.inner.events.send(event);
    }

    /// Records that `rid` was deleted at change version `version`.
    pub fn apply_remove(&mut self, rid: &AgentRid, version: ChangeVersion) {
        self.directory.inner.agents.load().remove(rid.as_str());
        self.advance(version);
        let _ = self
            .directory
            .inner
            .events
            .send(DirectoryEvent::Deregistered(rid.clone()));
    }

    /// The map now reflects `version` only if nobody else wrote in between; otherwise the
    /// applied version stays behind and the watcher reloads.
    fn advance(&mut self, version: ChangeVersion) {
        if version.0 == self.applied.0 + 1 {
            *self.applied = version;
        }
    }

    fn replace_all(&mut self, rows: Vec<DirectoryRow>) {
        let old = self.directory.inner.agents.load();
        let agents = AgentMap::with_capacity(rows.len());
        for row in rows {
            // Keep the entry (and its liveness mark) when nothing the auth path reads changed.
            let entry = match old.get(row.rid.as_str()) {
                Some(existing) if existing.matches(&row) => Arc::clone(&existing),
                _ => Arc::new(DirectoryEntry::from_row(row)),
            };
            agents.insert(Arc::clone(&entry.rid), entry);
        }
        self.directory.inner.agents.store(Arc::new(agents));
    }
}

// === impl DirectoryEntry ===

impl DirectoryEntry {
    fn from_row(row: DirectoryRow) -> DirectoryEntry {
        DirectoryEntry {
            rid: row.rid.as_str().into(),
            metrics: row.metrics,
            profiles: row.profiles,
            last_marked: AtomicI64::new(i64::MIN),
        }
    }

    fn matches(&self, row: &DirectoryRow) -> bool {
        *self.rid == *row.rid.as_str()
            && self.metrics == row.metrics
            && self.profiles == row.profiles
    }

    /// The agent's resource id.
    pub fn rid(&self) -> &str {
        &self.rid
    }

    /// Claims the right to record that the agent was seen at `now` (Unix seconds): true at most
    /// once per `interval` seconds per agent, whichever request gets there first.
    pub fn claim_seen_mark(&self, now: i64, interval: i64) -> bool {
        let last = self.last_marked.load(Ordering::Relaxed);
        if now.saturating_sub(last) < interval {
            return false;
        }
        self.last_marked
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{AgentSpec, LogSource, Node};
    use crate::registry::Registry;

    fn spec(hostname: &str) -> AgentSpec {
        AgentSpec {
            hostname: hostname.to_owned(),
            node: Node::Unix,
            log_sources: vec![LogSource::Journal],
            metrics: false,
            metrics_targets: Vec::new(),
            profiles: false,
            labels: Vec::new(),
        }
    }

    #[tokio::test]
    async fn own_writes_need_no_reload_and_foreign_writes_get_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open("sqlite://:memory:", dir.path())
            .await
            .expect("store");
        let directory = Directory::load(&store).await.expect("directory");
        let registry = Registry::new(store.clone(), directory.clone(), "svc".into());
        let own = registry.register(&spec("own")).await.expect("register");
        assert!(directory.lookup(own.rid.as_str()).is_some());
        assert!(!directory.refresh(&store).await.expect("refresh"));

        // Written past the registry, as a second Finch sharing the database would.
        let foreign = AgentRid::mint("svc");
        store
            .insert_agent(&foreign, &spec("foreign"))
            .await
            .expect("insert");
        assert!(directory.lookup(foreign.as_str()).is_none());
        assert!(directory.refresh(&store).await.expect("refresh"));
        assert!(directory.lookup(foreign.as_str()).is_some());
        assert!(!directory.refresh(&store).await.expect("refresh"));
    }

    #[test]
    fn seen_marks_are_claimed_once_per_interval() {
        let entry = DirectoryEntry::from_row(DirectoryRow {
            rid: AgentRid::parse("rid:finch:x:agent:1").expect("rid"),
            metrics: true,
            profiles: false,
        });
        assert!(entry.claim_seen_mark(1000, 30));
        assert!(!entry.claim_seen_mark(1000, 30));
        assert!(!entry.claim_seen_mark(1029, 30));
        assert!(entry.claim_seen_mark(1030, 30));
    }
}
