//! The agent directory: the in-memory set of live agents that answers `/auth` without I/O.
//!
//! A ForwardAuth check costs one hash lookup under a shard read lock of a concurrent map, never a
//! wait for the database. The directory is kept in step with the store in two ways:
//!
//! - **Writes made through Finch** ([`crate::registry::Registry`]) change the store and then this
//!   map while holding the directory's write lock, before they return. A deregistered agent is
//!   therefore refused on its very next request.
//! - **Writes by anyone else** (a second Finch, an operator's `sqlite3` or `psql`) are found by
//!   [`Directory::spawn_watcher`] (`watch.rs`): on PostgreSQL each change is announced and applied
//!   agent by agent within milliseconds; the store's change version, polled, catches whatever an
//!   announcement missed (and is all SQLite has), with a reload of every agent.
//!
//! Every write path holds the same async mutex, so a reload can never apply rows read before an
//! own write that has already been applied.
//!
//! # Memory
//!
//! There is one entry per registered agent, so its layout decides Finch's resident memory at
//! fleet scale: at 100,000 agents every byte of an entry is 100 kB. An entry therefore lives
//! inline in a map and owns no heap allocation: the agents whose resource ids have the form this
//! service mints (`rid:finch:<service id>:agent:<uuid>`, every agent registered through it or
//! through 1.x under the same id) are keyed by the 16 bytes of the UUID, and only ids of another
//! form, in a second map, keep their text. The value is 8 bytes: the signal switches and the
//! second of the last liveness mark. That is 25 bytes a slot, about 33 an agent with the maps'
//! free slots. A reload applies the store's rows to the live maps as they stream in, and then
//! removes the agents it did not see, so it never holds a second copy of the fleet.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use dashmap::mapref::one::Ref;
use tokio::sync::{Mutex, MutexGuard, broadcast};
use uuid::Uuid;

use crate::agents::AgentRid;
use crate::store::{ChangeVersion, DirectoryRow, Store, StoreError};

mod watch;

pub use watch::DEFAULT_POLL_INTERVAL;

/// The live agents, shared by every request handler.
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

/// A registered agent as the auth path sees it, borrowed from the directory.
///
/// It holds a read lock on a part of a map: use it for the decision at hand and drop it, and
/// never look up another agent while holding it.
pub struct DirectoryEntry<'a>(EntryRef<'a>);

enum EntryRef<'a> {
    Minted(Ref<'a, Uuid, Slot>),
    Other(Ref<'a, Box<str>, Slot>),
}

/// An agent's resource id in the compact form the directory keys on (see the module
/// documentation). Cheap to clone: no allocation for ids this service mints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentKey(Id<Box<str>>);

/// A resource id by its form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Id<T> {
    /// `<prefix><uuid>`, the UUID in its canonical lowercase hyphenated form.
    Minted(Uuid),
    /// Any other id, verbatim.
    Other(T),
}

/// What the auth path knows of one agent: as little as it needs (see the module documentation).
#[derive(Debug)]
struct Slot {
    /// When this process last queued a `last_seen` write for the agent: Unix seconds (which fit
    /// until 2106), [`NEVER_MARKED`] before the first.
    last_marked: AtomicU32,
    /// May push metrics.
    metrics: bool,
    /// May push profiles.
    profiles: bool,
    /// The parity of the last reload that found the agent in the store; see [`Applied::epoch`].
    epoch: bool,
}

const NEVER_MARKED: u32 = 0;

/// A change to the set of agents, for live views such as the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryEvent {
    /// An agent was registered (through this process, or announced by the database).
    Registered(AgentRid),
    /// An agent was updated (through this process, or announced by the database).
    Updated(AgentRid),
    /// An agent was deregistered (through this process, or announced by the database).
    Deregistered(AgentRid),
    /// The directory was reloaded after a change by another writer.
    Reloaded,
}

/// Exclusive access for a writer; see [`Directory::lock`].
pub struct DirectoryWriter<'a> {
    directory: &'a Directory,
    applied: MutexGuard<'a, Applied>,
}

struct Inner {
    /// Agents whose ids this service minted, by UUID.
    minted: DashMap<Uuid, Slot>,
    /// Agents with ids of any other form, by id.
    other: DashMap<Box<str>, Slot>,
    /// What ids minted by this service start with.
    minted_prefix: Box<str>,
    applied: Mutex<Applied>,
    events: broadcast::Sender<DirectoryEvent>,
}

/// The writers' state, behind the write lock.
struct Applied {
    /// The change version the map reflects completely.
    version: ChangeVersion,
    /// Every entry's [`Slot::epoch`] between writes. A reload flips it, stamps the agents it
    /// reads with the new value and then removes the entries still carrying the old one.
    epoch: bool,
}

/// Room for bursts of changes before a slow subscriber lags (and is told so).
const EVENT_CAPACITY: usize = 1024;

// === impl Directory ===

impl Directory {
    /// Loads every agent from `store`; ids minted for `service_id` are kept compactly.
    pub async fn load(store: &Store, service_id: &str) -> Result<Directory, StoreError> {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let directory = Directory {
            inner: Arc::new(Inner {
                minted: DashMap::new(),
                other: DashMap::new(),
                minted_prefix: AgentRid::minted_prefix(service_id).into(),
                applied: Mutex::new(Applied {
                    version: ChangeVersion::default(),
                    epoch: false,
                }),
                events,
            }),
        };
        let version = store
            .directory_snapshot(|row| {
                directory.inner.upsert(&row, false);
            })
            .await?;
        directory.inner.applied.lock().await.version = version;
        Ok(directory)
    }

    /// The agent with resource id `rid`, if it is registered. Never matches an empty id.
    pub fn lookup(&self, rid: &str) -> Option<DirectoryEntry<'_>> {
        if rid.is_empty() {
            return None;
        }
        let entry = match self.inner.id(rid) {
            Id::Minted(uuid) => EntryRef::Minted(self.inner.minted.get(&uuid)?),
            Id::Other(rid) => EntryRef::Other(self.inner.other.get(rid)?),
        };
        Some(DirectoryEntry(entry))
    }

    /// The resource id `key` stands for.
    pub fn rid_of(&self, key: &AgentKey) -> String {
        match &key.0 {
            Id::Minted(uuid) => format!("{}{}", self.inner.minted_prefix, uuid.hyphenated()),
            Id::Other(rid) => rid.to_string(),
        }
    }

    /// How many agents are registered.
    pub fn len(&self) -> usize {
        self.inner.minted.len() + self.inner.other.len()
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
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("agents", &self.len())
            .finish_non_exhaustive()
    }
}

// === impl Inner ===

impl Inner {
    /// The form of `rid`: its UUID when it is one this service minted. The UUID must read back
    /// to the very same text, so that two ids never share a key.
    fn id<'a>(&self, rid: &'a str) -> Id<&'a str> {
        rid.strip_prefix(&*self.minted_prefix)
            .and_then(|rest| Some((rest, Uuid::try_parse(rest).ok()?)))
            .filter(|(rest, uuid)| {
                *uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()) == **rest
            })
            .map_or(Id::Other(rid), |(_, uuid)| Id::Minted(uuid))
    }

    /// Records `row`, keeping the agent's liveness mark if it was known. Returns whether it was.
    fn upsert(&self, row: &DirectoryRow, epoch: bool) -> bool {
        match self.id(row.rid.as_str()) {
            Id::Minted(uuid) => upsert(&self.minted, uuid, row, epoch),
            Id::Other(rid) => upsert(&self.other, rid.into(), row, epoch),
        }
    }

    /// Forgets `rid`. Returns whether it was known.
    fn remove(&self, rid: &str) -> bool {
        match self.id(rid) {
            Id::Minted(uuid) => self.minted.remove(&uuid).is_some(),
            Id::Other(rid) => self.other.remove(rid).is_some(),
        }
    }

    /// Keeps the agents for which `keep` holds.
    fn retain(&self, mut keep: impl FnMut(&mut Slot) -> bool) {
        self.minted.retain(|_, slot| keep(slot));
        self.other.retain(|_, slot| keep(slot));
    }
}

/// Records `row` under `key` in `map`; see [`Inner::upsert`].
fn upsert<K: Hash + Eq>(map: &DashMap<K, Slot>, key: K, row: &DirectoryRow, epoch: bool) -> bool {
    match map.entry(key) {
        Entry::Occupied(mut known) => {
            let slot = known.get_mut();
            slot.metrics = row.metrics;
            slot.profiles = row.profiles;
            slot.epoch = epoch;
            true
        }
        Entry::Vacant(new) => {
            new.insert(Slot {
                last_marked: AtomicU32::new(NEVER_MARKED),
                metrics: row.metrics,
                profiles: row.profiles,
                epoch,
            });
            false
        }
    }
}

// === impl DirectoryWriter ===

impl DirectoryWriter<'_> {
    /// Records an agent stored at change version `version`.
    pub fn apply_upsert(&mut self, row: DirectoryRow, version: ChangeVersion) {
        let inner = &self.directory.inner;
        let existed = inner.upsert(&row, self.applied.epoch);
        self.advance(version);
        let event = if existed {
            DirectoryEvent::Updated(row.rid)
        } else {
            DirectoryEvent::Registered(row.rid)
        };
        let _ = inner.events.send(event);
    }

    /// Records that `rid` was deleted at change version `version`.
    pub fn apply_remove(&mut self, rid: &AgentRid, version: ChangeVersion) {
        let inner = &self.directory.inner;
        let _ = inner.remove(rid.as_str());
        self.advance(version);
        let _ = inner.events.send(DirectoryEvent::Deregistered(rid.clone()));
    }

    /// The map now reflects `version` only if nobody else wrote in between; otherwise the
    /// applied version stays behind and the watcher reloads.
    fn advance(&mut self, version: ChangeVersion) {
        if version.0 == self.applied.version.0 + 1 {
            self.applied.version = version;
        }
    }

    /// Applies every row of the store to the map in place, then removes the agents the store no
    /// longer has. Requests keep being answered meanwhile, each from an agent's old or new state.
    async fn reload(&mut self, store: &Store) -> Result<(), StoreError> {
        let inner = &self.directory.inner;
        let epoch = !self.applied.epoch;
        let read = store
            .directory_snapshot(|row| {
                inner.upsert(&row, epoch);
            })
            .await;
        self.applied.epoch = epoch;
        match read {
            Ok(version) => {
                inner.retain(|slot| slot.epoch == epoch);
                self.applied.version = version;
                Ok(())
            }
            Err(error) => {
                // Some rows may be applied; remove nothing, and make every entry count as seen
                // so that the next reload starts from a uniform epoch again.
                inner.retain(|slot| {
                    slot.epoch = epoch;
                    true
                });
                Err(error)
            }
        }
    }
}

// === impl DirectoryEntry ===

impl DirectoryEntry<'_> {
    /// The agent's key, to name it without its text (see [`Directory::rid_of`]).
    pub fn key(&self) -> AgentKey {
        AgentKey(match &self.0 {
            EntryRef::Minted(entry) => Id::Minted(*entry.key()),
            EntryRef::Other(entry) => Id::Other(entry.key().clone()),
        })
    }

    /// May push metrics.
    pub fn metrics(&self) -> bool {
        self.slot().metrics
    }

    /// May push profiles.
    pub fn profiles(&self) -> bool {
        self.slot().profiles
    }

    /// Claims the right to record that the agent was seen at `now` (Unix seconds): true at most
    /// once per `interval` seconds per agent, whichever request gets there first.
    pub fn claim_seen_mark(&self, now: i64, interval: i64) -> bool {
        self.slot().claim_seen_mark(now, interval)
    }

    fn slot(&self) -> &Slot {
        match &self.0 {
            EntryRef::Minted(entry) => entry.value(),
            EntryRef::Other(entry) => entry.value(),
        }
    }
}

// === impl Slot ===

impl Slot {
    fn claim_seen_mark(&self, now: i64, interval: i64) -> bool {
        let last = self.last_marked.load(Ordering::Relaxed);
        if last != NEVER_MARKED && now.saturating_sub(i64::from(last)) < interval {
            return false;
        }
        let now = u32::try_from(now.max(1)).unwrap_or(u32::MAX);
        self.last_marked
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests;
