//! The fake Slack's rate limits, when a test or bench asks for them: Slack's published tiers,
//! per method and workspace, and `chat.postMessage`'s per-channel limit, as token buckets that
//! allow the bursts Slack allows. Over a limit the call is answered HTTP 429 with
//! `Retry-After` in whole seconds, as Slack does, and counted.
//!
//! docs.slack.dev/apis/web-api/rate-limits, "Overview": limits apply "per API method per
//! workspace/team per app". "Web API Tier 2: 20+ per minute. Most methods allow at least 20
//! requests per minute, while allowing for occasional bursts of more requests." "Web API Tier
//! 3: 50+ per minute … Sporadic bursts are welcome." "Posting messages: 1 per second. Short
//! bursts >1 allowed." "Responding to rate-limiting conditions": over a limit Slack answers
//! "a HTTP 429 Too Many Requests error, and a Retry-After HTTP header containing the number of
//! seconds until you can retry".

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One limit: `burst` calls at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy)]
struct Limit {
    per_minute: u32,
    burst: u32,
}

/// The limit of a method, and whether it is counted per channel.
///
/// - `conversations.create`: Tier 2 (docs.slack.dev/reference/methods/conversations.create,
///   "Rate limits: Tier 2"), 20 a minute with a minute's burst.
/// - `chat.update`: Tier 3 (docs.slack.dev/reference/methods/chat.update, "Rate limits: Tier
///   3"), 50 a minute with a minute's burst.
/// - `chat.postMessage`: "Special" (docs.slack.dev/reference/methods/chat.postMessage, "Rate
///   limits": "generally allows an app to post 1 message per second to a specific channel"),
///   a short burst of 3.
fn limit(method: &str) -> Option<(Limit, bool)> {
    Some(match method {
        "conversations.create" => (
            Limit {
                per_minute: 20,
                burst: 20,
            },
            false,
        ),
        "chat.update" => (
            Limit {
                per_minute: 50,
                burst: 50,
            },
            false,
        ),
        "chat.postMessage" => (
            Limit {
                per_minute: 60,
                burst: 3,
            },
            true,
        ),
        _ => return None,
    })
}

/// A bucket's tokens at a moment.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The tier limits in force, with the 429s answered.
#[derive(Debug, Default)]
pub struct Tiers {
    /// `None`: no limits (the default, so ordinary tests stay fast). `Some(n)`: Slack's limits
    /// with time running `n` times faster (each refill and burst window divided by `n`; the
    /// figures of a minute stay what Slack publishes).
    speed: Option<u32>,
    buckets: HashMap<(String, String), Bucket>,
    /// 429s answered, by method.
    refused: HashMap<String, usize>,
    /// The next call to a method is refused for this many seconds, limits or not.
    refuse_next: HashMap<String, u64>,
}

impl Tiers {
    /// Slack's limits from now on, `speed` times faster (1: Slack's own pace).
    pub fn enforce(&mut self, speed: u32) {
        self.speed = Some(speed.max(1));
        self.buckets.clear();
    }

    /// The next call to `method` is answered 429 with `Retry-After: secs`, as if its limit
    /// were spent.
    pub fn refuse_next(&mut self, method: &str, secs: u64) {
        self.refuse_next.insert(method.to_owned(), secs);
    }

    /// How many calls to `method` were answered 429.
    pub fn refused(&self, method: &str) -> usize {
        self.refused.get(method).copied().unwrap_or(0)
    }

    /// Takes a token for a call to `method` in `channel`, or answers the whole seconds to wait
    /// (`Retry-After`, at least 1).
    pub fn take(&mut self, method: &str, channel: &str) -> Option<u64> {
        if let Some(secs) = self.refuse_next.remove(method) {
            *self.refused.entry(method.to_owned()).or_default() += 1;
            return Some(secs);
        }
        let speed = f64::from(self.speed?);
        let (limit, per_channel) = limit(method)?;
        let key = if per_channel { channel } else { "" };
        let now = Instant::now();
        // One token per 60 s / per_minute, time running `speed` times faster.
        let every = 60.0 / f64::from(limit.per_minute) / speed;
        let burst = f64::from(limit.burst);
        let bucket = self
            .buckets
            .entry((method.to_owned(), key.to_owned()))
            .or_insert(Bucket {
                tokens: burst,
                at: now,
            });
        let refill = now.duration_since(bucket.at).as_secs_f64() / every;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return None;
        }
        *self.refused.entry(method.to_owned()).or_default() += 1;
        let left = Duration::from_secs_f64((1.0 - bucket.tokens) * every);
        Some(left.as_secs_f64().ceil().max(1.0) as u64)
    }
}
