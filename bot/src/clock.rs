//! The engine's clock: real time in production, a hand-moved clock in tests and
//! `klaxon console --virtual-time`.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};

/// Where "now" comes from. Everything time-dependent in the engine asks this, never the OS.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's UTC clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward; returns the new time.
    pub fn advance(&self, by: std::time::Duration) -> DateTime<Utc> {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = after(*now, by);
        *now
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The latest time Klaxon computes with: the end of year 9999, the last one [`to_db`]'s
/// fixed-width text can hold.
pub fn end_of_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 999_000_000)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t + by`, without overflow: a duration from outside Klaxon (a platform's `Retry-After`, a
/// stored cadence) that would pass [`end_of_time`] stops there instead of panicking.
pub fn after(t: DateTime<Utc>, by: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(by)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .map_or_else(end_of_time, |at| at.min(end_of_time()))
}

/// Formats a UTC time for storage: fixed width, so text order is time order.
pub fn to_db(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Reads a stored UTC time.
pub fn from_db(s: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(s)
        .map_err(|e| anyhow::anyhow!("bad stored time {s:?}: {e}"))?
        .with_timezone(&Utc))
}

/// `15:04 UTC`: how times read in chat.
pub fn short(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// `2026-11-23 15:04:05 UTC`: how times read in exports.
pub fn long(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_format_round_trips_and_sorts() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T15:04:05.123Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(to_db(t), "2026-11-23T15:04:05.123Z");
        assert_eq!(from_db(&to_db(t)).expect("parses"), t);
        assert!(to_db(t) < to_db(t + chrono::Duration::milliseconds(1)));
        assert_eq!(short(t), "15:04 UTC");
        assert_eq!(long(t), "2026-11-23 15:04:05 UTC");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(std::time::Duration::from_secs(960));
        assert_eq!(clock.now(), start + chrono::Duration::minutes(16));
    }

    #[test]
    fn time_arithmetic_with_outside_durations_never_overflows() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T15:04:05Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(
            after(t, std::time::Duration::from_secs(60)),
            t + chrono::Duration::minutes(1)
        );
        for absurd in [
            std::time::Duration::from_secs(100_000_000_000_000),
            std::time::Duration::MAX,
        ] {
            assert_eq!(after(t, absurd), end_of_time());
        }
        assert_eq!(to_db(end_of_time()), "9999-12-31T23:59:59.999Z");
        let clock = ManualClock::new(t);
        assert_eq!(clock.advance(std::time::Duration::MAX), end_of_time());
    }
}
