//! What the platform benchmarks share: memory readings, percentiles, declare numbers and
//! waiting for the outbox to go quiet.

use std::time::Duration;

/// The process's resident memory, from `/proc` (Linux).
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The `p`th percentile of sorted durations, in milliseconds.
pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// The declare's number at the end of its channel's name (`inc-…-outage-7` → 7).
pub fn declare_number(channel_name: &str) -> Option<usize> {
    channel_name.rsplit('-').next()?.parse().ok()
}

/// Waits until `calls` (how many calls the fake has received) has not grown for half a
/// second, or until `deadline`: the outbox has finished what the declares queued.
pub async fn until_quiet(calls: impl Fn() -> usize, deadline: std::time::Instant) {
    let mut seen = calls();
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = calls();
        if now == seen {
            return;
        }
        seen = now;
    }
}
