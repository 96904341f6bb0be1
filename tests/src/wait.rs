//! Waiting on an event rather than sleeping a fixed time: [`eventually`] polls a condition
//! until it holds or a deadline passes. Every test that waits for something to happen waits
//! through it (the fakes' `until`, `TestBot::settle_until`, `spawn::settled` included).

use std::time::{Duration, Instant};

/// How long a test waits for an event unless it says otherwise.
pub const LIMIT: Duration = Duration::from_secs(10);

/// How often the condition is checked.
const EVERY: Duration = Duration::from_millis(10);

/// Waits up to `limit` until `check` holds; whether it did. The condition is checked once
/// more at the deadline, so a slow machine that reached it late still passes.
pub async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(EVERY).await;
    }
    check().await
}

/// [`eventually`] for a condition that needs no waiting of its own (its future stays `Send`
/// whatever the condition borrows, which an async closure's would not).
pub async fn until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(EVERY).await;
    }
    check()
}

/// [`until`] for tests without a runtime (they wait on processes and files): blocks the
/// thread between checks.
pub fn blocking_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(EVERY);
    }
    check()
}
