//! Keeping the directory in step with writers other than this process: a second replica, an
//! operator's `sqlite3` or `psql`.
//!
//! Two ways, run side by side by [`Directory::spawn_watcher`]:
//!
//! - **Announcements** (PostgreSQL): the database notifies every change with the version it
//!   produced and the resource ids it touched ([`ChangeFeed`](crate::store::ChangeFeed)). The
//!   next version in line is applied by re-reading just those agents, so a deregistration
//!   through another replica is refused here within milliseconds, and a fleet of 100,000 is not
//!   re-read for one change. A version out of line means an announcement was missed: every
//!   agent is read again. After a lost connection the feed listens again first and then
//!   re-reads what changed meanwhile, so no change falls between the two.
//! - **Polling the change version**, every [`DEFAULT_POLL_INTERVAL`]: where the database
//!   announces nothing (SQLite) a version that moved reloads every agent; where it announces, a
//!   version seen one poll earlier and still not applied (a silently dead feed) does.
//!
//! Either way a foreign change is applied well within the second Finch promises. While the
//! database cannot be reached the directory keeps what it knows: `/auth` answers from it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Directory, DirectoryEvent, DirectoryWriter};
use crate::agents::AgentRid;
use crate::store::{ChangeNotice, ChangeVersion, DirectoryRow, Store, StoreError};

/// How often the store's change version is polled, and how soon a lost feed is opened again.
/// Foreign changes that no announcement brought are seen within two of these plus one reload,
/// under the one second Finch promises; a version read costs one indexed row.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Logs a failing background job once when it starts failing and once when it recovers.
struct Outage {
    failing: bool,
    what: &'static str,
}

// === impl Directory ===

impl Directory {
    /// Re-reads the store if its change version differs from what the map reflects.
    /// Returns whether a reload happened.
    pub async fn refresh(&self, store: &Store) -> Result<bool, StoreError> {
        let current = store.change_version().await?;
        if current == self.applied_version().await {
            return Ok(false);
        }
        let mut writer = self.lock().await;
        // A write through this process may have applied the change while we waited for the
        // lock; only a version still unexplained is worth a full reload.
        if store.change_version().await? == writer.applied.version {
            return Ok(false);
        }
        writer.reload(store).await?;
        drop(writer);
        let _ = self.inner.events.send(DirectoryEvent::Reloaded);
        Ok(true)
    }

    /// Applies a change the database announced: the agents it names are read again when it is
    /// the next version in line, every agent when versions were skipped, nothing when the map
    /// already reflects it (this process's own writes).
    pub async fn apply_notice(
        &self,
        store: &Store,
        notice: ChangeNotice,
    ) -> Result<(), StoreError> {
        let ChangeNotice::Agents { version, rids } = notice else {
            return self.refresh(store).await.map(drop);
        };
        let mut writer = self.lock().await;
        let applied = writer.applied.version;
        if version <= applied {
            return Ok(());
        }
        if version.0 != applied.0 + 1 {
            writer.reload(store).await?;
            drop(writer);
            let _ = self.inner.events.send(DirectoryEvent::Reloaded);
            return Ok(());
        }
        // Read under the write lock: no write through this process can land between the read
        // and its application and be undone by an older row.
        let rows = store.directory_rows(&rids).await?;
        writer.apply_announced(&rids, &rows, version);
        Ok(())
    }

    /// Follows announcements and polls the change version every `interval` until `shutdown`.
    pub fn spawn_watcher(
        &self,
        store: Store,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let directory = self.clone();
        tokio::spawn(async move {
            tokio::join!(
                poll(&directory, &store, interval, &shutdown),
                follow(&directory, &store, interval, &shutdown),
            );
        })
    }

    /// The change version the map reflects completely.
    async fn applied_version(&self) -> ChangeVersion {
        self.inner.applied.lock().await.version
    }

    /// One poll where changes are announced: reloads when the version is behind what it was at
    /// the previous poll (`awaited`), or went backwards (a database restored or replaced).
    async fn catch_up(
        &self,
        store: &Store,
        awaited: &mut Option<ChangeVersion>,
    ) -> Result<bool, StoreError> {
        let current = store.change_version().await?;
        let applied = self.applied_version().await;
        let lagging = current < applied || awaited.is_some_and(|seen| applied < seen);
        *awaited = (current > applied).then_some(current);
        if lagging {
            *awaited = None;
            return self.refresh(store).await;
        }
        Ok(false)
    }
}

// === impl DirectoryWriter ===

impl DirectoryWriter<'_> {
    /// Applies announced change `version`: the agents among `rids` found in `rows` are stored,
    /// the others are gone.
    fn apply_announced(&mut self, rids: &[String], rows: &[DirectoryRow], version: ChangeVersion) {
        let inner = &self.directory.inner;
        for rid in rids.iter().filter(|rid| !rid.is_empty()) {
            let event = match rows.iter().find(|row| row.rid.as_str() == rid) {
                Some(row) if inner.upsert(row, self.applied.epoch) => {
                    DirectoryEvent::Updated(row.rid.clone())
                }
                Some(row) => DirectoryEvent::Registered(row.rid.clone()),
                None if inner.remove(rid) => match AgentRid::parse(rid) {
                    Ok(rid) => DirectoryEvent::Deregistered(rid),
                    Err(_) => continue,
                },
                None => continue,
            };
            let _ = inner.events.send(event);
        }
        self.applied.version = version;
    }
}

// === impl Outage ===

impl Outage {
    fn new(what: &'static str) -> Outage {
        Outage {
            failing: false,
            what,
        }
    }

    fn failed(&mut self, error: &dyn std::fmt::Display) {
        if !self.failing {
            self.failing = true;
            tracing::error!(
                %error,
                "cannot {}; /auth answers from the last known agents",
                self.what
            );
        }
    }

    fn over(&mut self) {
        if self.failing {
            self.failing = false;
            tracing::info!("can {} again", self.what);
        }
    }
}

/// Polls the change version every `interval` until `shutdown`; see the module documentation.
async fn poll(
    directory: &Directory,
    store: &Store,
    interval: Duration,
    shutdown: &CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outage = Outage::new("poll the database for agent changes");
    let mut awaited = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let polled = if store.announces_changes() {
            directory.catch_up(store, &mut awaited).await
        } else {
            directory.refresh(store).await
        };
        match polled {
            Ok(reloaded) => {
                outage.over();
                if reloaded {
                    tracing::debug!(
                        agents = directory.len(),
                        "agent directory reloaded after a change by another writer"
                    );
                }
            }
            Err(error) => outage.failed(&error),
        }
    }
}

/// Applies the database's announcements until `shutdown`, listening again `retry` after a lost
/// connection; returns at once where the database announces nothing.
async fn follow(
    directory: &Directory,
    store: &Store,
    retry: Duration,
    shutdown: &CancellationToken,
) {
    let mut outage = Outage::new("listen for agent changes");
    loop {
        let opened = tokio::select! {
            () = shutdown.cancelled() => return,
            opened = store.change_feed() => opened,
        };
        match opened {
            Ok(None) => return,
            Ok(Some(mut feed)) => {
                // Listening already: what changed before is found by this re-read, what changes
                // after is announced.
                match directory.refresh(store).await {
                    Ok(_) => outage.over(),
                    Err(error) => outage.failed(&error),
                }
                loop {
                    // The feed is dropped with the branch that loses, as it must be.
                    let next = tokio::select! {
                        () = shutdown.cancelled() => return,
                        next = feed.next() => next,
                    };
                    match next {
                        Ok(Some(notice)) => {
                            if let Err(error) = directory.apply_notice(store, notice).await {
                                // The poll reloads once the database answers again.
                                outage.failed(&error);
                            }
                        }
                        Ok(None) => {
                            outage.failed(&"the connection was lost");
                            break;
                        }
                        Err(error) => {
                            outage.failed(&error);
                            break;
                        }
                    }
                }
            }
            Err(error) => outage.failed(&error),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}
