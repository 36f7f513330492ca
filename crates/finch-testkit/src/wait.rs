//! Waiting on a condition under a deadline: tests never sleep for a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long an awaited condition may take before a test fails: generous, because a loaded CI
/// machine runs many test binaries at once.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `check` returns `Some`, checking every 20 ms, for at most `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if started.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}
