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
//!
//! The writer wakes on a clock, not on marks: every [`Pace::every`] it takes at most
//! [`Pace::marks`] from the queue and writes them in one transaction. Woken by each mark
//! instead, it cost a cross-thread wake-up (a futex call on the auth worker, a context switch on
//! the runtime's) for nearly every request while a large fleet's marks came in.
//!
//! Writing seldom and in large transactions is what makes `last_seen` cheap at fleet scale.
//! Marks land on random rows, so a transaction of a few marks rewrites about one database page
//! per mark (read, logged to the WAL, checkpointed back): at 100,000 agents about 10 µs of CPU
//! per mark, more than the auth decision. A transaction of tens of thousands of marks touches
//! each page of the table once for many marks. The default pace takes up to 40,960 marks every
//! 5 s (8,192 a second: a mark every [`MARK_INTERVAL_SECS`] for up to 245,000 agents), so
//! `last_seen` lags a request by at most 5 s more; a burst larger than that (a whole fleet's
//! first requests after a restart) is written over the following ticks.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::agents::AgentRid;
use crate::directory::{AgentKey, Directory, DirectoryEntry};
use crate::registry::Registry;

/// At most one `last_seen` write per agent in this many seconds.
pub const MARK_INTERVAL_SECS: i64 = 30;

/// Marks waiting to be written. At 100,000 agents every agent fits, so nothing is dropped unless
/// the database stalls.
const QUEUE_CAPACITY: usize = 131_072;

/// How fast queued marks are written.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// How often the writer takes marks from the queue.
    pub every: Duration,
    /// The most marks it takes (and writes in one transaction) each time.
    pub marks: usize,
}

impl Default for Pace {
    /// 40,960 marks every 5 s (see the module documentation).
    fn default() -> Pace {
        Pace {
            every: Duration::from_secs(5),
            marks: 40_960,
        }
    }
}

/// Marks per `UPDATE` statement within a flush's transaction.
const STATEMENT_MARKS: usize = 2048;

/// The request-path half: queues marks without waiting.
#[derive(Clone, Debug)]
pub struct LivenessRecorder {
    queue: mpsc::Sender<(AgentKey, i64)>,
    dropped: Counter,
}

// === impl LivenessRecorder ===

impl LivenessRecorder {
    /// Starts the writer task over `registry` at `pace`; when `shutdown` fires it writes
    /// everything still queued and ends.
    pub fn spawn(
        registry: Registry,
        pace: Pace,
        dropped: Counter,
        shutdown: CancellationToken,
    ) -> (LivenessRecorder, tokio::task::JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let task = tokio::spawn(write_marks(registry, receiver, pace, shutdown));
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
    pace: Pace,
    shutdown: CancellationToken,
) {
    let marks = pace.marks.max(1);
    let mut batch = Vec::with_capacity(marks);
    let mut clock = tokio::time::interval_at(tokio::time::Instant::now() + pace.every, pace.every);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = clock.tick() => false,
            () = shutdown.cancelled() => true,
        };
        // `try_recv` registers no waker, so senders never wake this task between ticks.
        while let Ok(mark) = receiver.try_recv() {
            batch.push(mark);
            if batch.len() == marks {
                flush(&registry, &mut batch).await;
                if !stopping {
                    break;
                }
            }
        }
        flush(&registry, &mut batch).await;
        if stopping {
            break;
        }
    }
}

async fn flush(registry: &Registry, batch: &mut Vec<(AgentKey, i64)>) {
    if batch.is_empty() {
        return;
    }
    let parts = SpelledOut {
        directory: registry.directory(),
        marks: batch.chunks(STATEMENT_MARKS),
    };
    if let Err(error) = registry.store().record_last_seen_in_parts(parts).await {
        tracing::warn!(%error, agents = batch.len(), "cannot record when agents were last seen");
    }
    batch.clear();
}

/// A batch's marks with their resource ids spelled out, a statement's worth at a time rather
/// than for the whole batch at once.
struct SpelledOut<'a> {
    directory: &'a Directory,
    marks: std::slice::Chunks<'a, (AgentKey, i64)>,
}

impl Iterator for SpelledOut<'_> {
    type Item = Vec<(AgentRid, OffsetDateTime)>;

    fn next(&mut self) -> Option<Self::Item> {
        let marks = self.marks.next()?;
        let spelled_out = marks.iter().filter_map(|(key, at)| {
            Some((
                AgentRid::parse(&self.directory.rid_of(key)).ok()?,
                OffsetDateTime::from_unix_timestamp(*at).ok()?,
            ))
        });
        Some(spelled_out.collect())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::agents::journal_only;
    use crate::store::Store;

    /// A writer at a given pace over a database in memory with a few agents.
    struct Fixture {
        registry: Registry,
        rids: Vec<AgentRid>,
        recorder: LivenessRecorder,
        writer: tokio::task::JoinHandle<()>,
        shutdown: CancellationToken,
    }

    impl Fixture {
        async fn start(agents: usize, pace: Pace) -> Fixture {
            let store = Store::open("sqlite://:memory:", Path::new("/"))
                .await
                .expect("store");
            let directory = Directory::load(&store, "svc").await.expect("directory");
            let registry = Registry::new(store, directory, "svc".into());
            let mut rids = Vec::with_capacity(agents);
            for n in 0..agents {
                let spec = journal_only(&format!("host-{n}"));
                rids.push(registry.register(&spec).await.expect("register").rid);
            }
            let shutdown = CancellationToken::new();
            let (recorder, writer) = LivenessRecorder::spawn(
                registry.clone(),
                pace,
                Counter::default(),
                shutdown.clone(),
            );
            Fixture {
                registry,
                rids,
                recorder,
                writer,
                shutdown,
            }
        }

        fn mark_all(&self, at: i64) {
            for rid in &self.rids {
                let entry = self.registry.directory().lookup(rid.as_str());
                self.recorder.mark(&entry.expect("agent"), at);
            }
        }

        /// How many agents have a `last_seen`.
        async fn seen(&self) -> usize {
            let mut seen = 0;
            for rid in &self.rids {
                if self
                    .registry
                    .get(rid)
                    .await
                    .expect("agent")
                    .last_seen
                    .is_some()
                {
                    seen += 1;
                }
            }
            seen
        }

        /// Stops the writer and waits for its last flush.
        async fn stop(&mut self) {
            self.shutdown.cancel();
            (&mut self.writer).await.expect("writer");
        }
    }

    #[tokio::test]
    async fn a_burst_larger_than_a_flush_is_written_in_full() {
        let every = Duration::from_millis(20);
        let mut fixture = Fixture::start(7, Pace { every, marks: 3 }).await;
        fixture.mark_all(1_000_000);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while fixture.seen().await < fixture.rids.len() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "every mark is written within 10 s"
            );
            tokio::time::sleep(every).await;
        }
        fixture.stop().await;
    }

    #[tokio::test]
    async fn marks_wait_for_the_writers_clock() {
        let every = Duration::from_secs(3600);
        let mut fixture = Fixture::start(2, Pace { every, marks: 1 }).await;
        fixture.mark_all(1_000_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(fixture.seen().await, 0);
        fixture.stop().await;
    }

    #[tokio::test]
    async fn shutdown_writes_every_queued_mark_at_once() {
        let every = Duration::from_secs(3600);
        let mut fixture = Fixture::start(7, Pace { every, marks: 2 }).await;
        fixture.mark_all(1_000_000);
        fixture.stop().await;
        assert_eq!(fixture.seen().await, fixture.rids.len());
    }

    #[tokio::test]
    async fn an_agent_is_marked_once_per_interval() {
        let mut fixture = Fixture::start(1, Pace::default()).await;
        let at = 1_000_000;
        for second in [
            at,
            at + 1,
            at + MARK_INTERVAL_SECS - 1,
            at + MARK_INTERVAL_SECS,
        ] {
            fixture.mark_all(second);
        }
        fixture.stop().await;
        let agent = fixture.registry.get(&fixture.rids[0]).await.expect("agent");
        let expected = OffsetDateTime::from_unix_timestamp(at + MARK_INTERVAL_SECS).ok();
        assert_eq!(agent.last_seen, expected);
    }
}
