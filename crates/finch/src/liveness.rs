//! Agent liveness: `last_seen`, recorded off the request path.
//!
//! `/auth` only flips an atomic on the agent's directory entry (at most once per agent per
//! [`MARK_INTERVAL_SECS`]) and queues the mark on a bounded channel; a background task writes the
//! marks in batches. A slow or failing database therefore never delays an agent write: when the
//! queue is full a mark is dropped (and counted), and the agent's next request after the interval
//! queues a new one.
//!
//! A queued mark is the agent's [`AgentKey`] and a time, 32 bytes without an allocation: a whole
//! fleet's first requests arrive within seconds and may all wait in the queue at once.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::agents::AgentRid;
use crate::directory::{AgentKey, DirectoryEntry};
use crate::registry::Registry;

/// At most one `last_seen` write per agent in this many seconds.
pub const MARK_INTERVAL_SECS: i64 = 30;

/// Marks waiting to be written. At 100,000 agents every agent fits, so nothing is dropped unless
/// the database stalls.
const QUEUE_CAPACITY: usize = 131_072;

/// Marks written per transaction, and the longest a mark waits for its batch to fill.
const BATCH_SIZE: usize = 1024;
const BATCH_WINDOW: Duration = Duration::from_secs(1);

/// The request-path half: queues marks without waiting.
#[derive(Clone, Debug)]
pub struct LivenessRecorder {
    queue: mpsc::Sender<(AgentKey, i64)>,
    dropped: Counter,
}

// === impl LivenessRecorder ===

impl LivenessRecorder {
    /// Starts the writer task over `registry`; it drains what is queued when `shutdown` fires.
    pub fn spawn(
        registry: Registry,
        dropped: Counter,
        shutdown: CancellationToken,
    ) -> (LivenessRecorder, tokio::task::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(write_marks(registry, receiver, shutdown));
        (LivenessRecorder { queue, dropped }, task)
    }

    /// Notes that `entry`'s agent was seen at `now` (Unix seconds). Never blocks.
    pub fn mark(&self, entry: &DirectoryEntry<'_>, now: i64) {
        if entry.claim_seen_mark(now, MARK_INTERVAL_SECS)
            && self.queue.try_send((entry.key(), now)).is_err()
        {
            self.dropped.inc();
        }
    }
}

async fn write_marks(
    registry: Registry,
    mut receiver: mpsc::Receiver<(AgentKey, i64)>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    loop {
        let first = tokio::select! {
            mark = receiver.recv() => mark,
            () = shutdown.cancelled() => None,
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = tokio::time::sleep(BATCH_WINDOW);
        tokio::pin!(deadline);
        while batch.len() < BATCH_SIZE {
            tokio::select! {
                mark = receiver.recv() => match mark {
                    Some(mark) => batch.push(mark),
                    None => break,
                },
                () = &mut deadline => break,
                () = shutdown.cancelled() => break,
            }
        }
        flush(&registry, &mut batch).await;
    }
    // Shutting down: write what is already queued, without waiting for more.
    while let Ok(mark) = receiver.try_recv() {
        batch.push(mark);
    }
    flush(&registry, &mut batch).await;
}

async fn flush(registry: &Registry, batch: &mut Vec<(AgentKey, i64)>) {
    if batch.is_empty() {
        return;
    }
    let directory = registry.directory();
    let marks: Vec<(AgentRid, OffsetDateTime)> = batch
        .drain(..)
        .filter_map(|(key, at)| {
            Some((
                AgentRid::parse(&directory.rid_of(&key)).ok()?,
                OffsetDateTime::from_unix_timestamp(at).ok()?,
            ))
        })
        .collect();
    if let Err(error) = registry.record_last_seen(&marks).await {
        tracing::warn!(%error, agents = marks.len(), "cannot record when agents were last seen");
    }
}
