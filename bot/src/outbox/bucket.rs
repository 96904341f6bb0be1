//! Rate-limit buckets shared by the lanes: every call counts against the bucket its adapter
//! names (`ChatApi::bucket`: a Slack method per workspace, `chat.postMessage` per channel, a
//! Discord route bucket). A bucket has at most one call in flight, so its calls reach the
//! platform oldest first (lowest outbox id). A call is out of its bucket as soon as the
//! platform has answered it ([`Buckets::release`]): the next one goes while the first's
//! outcome is being committed. While the platform has room nothing else holds them. One 429
//! pauses the whole bucket until its `Retry-After`; its calls are then released
//! one at a time at the bucket's pace (the SDK's figure: Tier 2 is one call every 3 s), oldest
//! first, until the bucket has been quiet for a whole period of its pace. A call waiting on
//! its bucket is not started, so it holds no in-flight slot and calls of other buckets go on.
//!
//! Times are real time, like every platform wait in the outbox.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use klaxon_commands::{Bucket, CallKind, ChatApi, PlatformKind};

use super::{Op, Target};
use crate::store::outbox::Pending;
use crate::store::posts::PostKind;

/// How long a bucket with no known pace keeps releasing one call at a time after a 429.
const UNKNOWN_PACE_QUIET: Duration = Duration::from_secs(60);

/// A bucket's key, on its platform.
pub(super) type Key = (PlatformKind, String);

/// What one bucket is doing.
#[derive(Debug, Default)]
struct State {
    /// The call of this bucket in flight, if any.
    flying: Option<i64>,
    /// A 429 asked every call of the bucket to wait until then.
    paused_until: Option<DateTime<Utc>>,
    /// Released at the pace (one call every `interval`) until then.
    pacing_until: Option<DateTime<Utc>>,
    /// While pacing: when the next call may start.
    next_at: Option<DateTime<Utc>>,
    /// The time between two calls at the bucket's pace (zero when unknown).
    interval: Duration,
    /// A quiet period that ends pacing: the pace's whole period.
    quiet: Duration,
}

/// The buckets, kept across the dispatcher's passes (a pause outlives the pass that saw it).
#[derive(Debug, Default)]
pub(super) struct Buckets {
    states: HashMap<Key, State>,
    /// The bucket of each call in flight.
    flying: HashMap<i64, Key>,
    /// Buckets whose call the platform answered since the dispatcher last looked
    /// ([`Buckets::take_released`]): their next calls may start.
    released: Vec<Key>,
}

/// Whether a call may start now.
pub(super) enum Admit {
    Go,
    /// Not before then.
    At(DateTime<Utc>),
    /// When the bucket's call in flight ends.
    Busy,
}

impl Buckets {
    /// Forgets the calls in flight (a new pass starts with none).
    pub(super) fn reset_flying(&mut self) {
        self.flying.clear();
        self.released.clear();
        for state in self.states.values_mut() {
            state.flying = None;
        }
    }

    /// Whether a call of bucket `key` may start at `now`.
    pub(super) fn admit(&mut self, key: &Key, now: DateTime<Utc>) -> Admit {
        let Some(state) = self.states.get_mut(key) else {
            return Admit::Go;
        };
        if state.flying.is_some() {
            return Admit::Busy;
        }
        if let Some(at) = state.paused_until.filter(|at| *at > now) {
            return Admit::At(at);
        }
        if state.pacing_until.is_some_and(|until| until <= now) {
            state.pacing_until = None;
            state.next_at = None;
        }
        match state.next_at.filter(|at| *at > now) {
            Some(at) if state.pacing_until.is_some() => Admit::At(at),
            _ => Admit::Go,
        }
    }

    /// Call `id` of bucket `bucket` starts at `now`.
    pub(super) fn start(&mut self, id: i64, key: Key, bucket: &Bucket, now: DateTime<Utc>) {
        let state = self.states.entry(key.clone()).or_default();
        state.flying = Some(id);
        if let Some(pace) = bucket.pace {
            state.interval = pace.interval();
            state.quiet = pace.per;
        } else {
            state.quiet = UNKNOWN_PACE_QUIET;
        }
        if state.pacing_until.is_some() {
            let next = crate::clock::after(now, state.interval);
            state.next_at = Some(next);
            // Pacing goes on while calls keep coming, and a whole period after the next one
            // could have gone.
            state.pacing_until = Some(crate::clock::after(next, state.quiet));
        }
        self.flying.insert(id, key);
    }

    /// Call `id` ended; `limited`: the platform's rate limit refused it, asking to wait until
    /// then.
    /// Returns the call's bucket, if it had one.
    pub(super) fn finish(&mut self, id: i64, limited: Option<DateTime<Utc>>) -> Option<Key> {
        let key = self.flying.remove(&id)?;
        let Some(state) = self.states.get_mut(&key) else {
            return Some(key);
        };
        if state.flying == Some(id) {
            state.flying = None;
        }
        if let Some(at) = limited {
            let until = state.paused_until.map_or(at, |p| p.max(at));
            tracing::info!(bucket = %key.1, until = %until, "rate limited: the bucket's calls wait, then go at its pace");
            state.paused_until = Some(until);
            state.next_at = Some(until);
            state.pacing_until = Some(crate::clock::after(until, state.quiet));
        }
        Some(key)
    }

    /// The platform answered call `id` without refusing it for its rate limit (what it did is
    /// recorded next): the next call of its bucket may start. Returns whether it was in a
    /// bucket; [`Self::finish`] then has nothing left to free.
    pub(super) fn release(&mut self, id: i64) -> bool {
        let Some(key) = self.flying.remove(&id) else {
            return false;
        };
        if let Some(state) = self.states.get_mut(&key)
            && state.flying == Some(id)
        {
            state.flying = None;
        }
        self.released.push(key);
        true
    }

    /// The buckets released since the last look.
    pub(super) fn take_released(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.released)
    }

    /// Drops buckets with nothing to remember.
    pub(super) fn tidy(&mut self, now: DateTime<Utc>) {
        self.states.retain(|_, s| {
            s.flying.is_some()
                || s.paused_until.is_some_and(|at| at > now)
                || s.pacing_until.is_some_and(|at| at > now)
        });
    }
}

/// The bucket a call counts against on `api`, with its key.
pub(super) fn of(api: &dyn ChatApi, call: &Pending) -> Option<(Key, Bucket)> {
    let (kind, channel) = describe(call)?;
    let bucket = api.bucket(kind, &call.tenant.workspace, channel.as_deref())?;
    Some(((call.tenant.platform, bucket.key.clone()), bucket))
}

/// What a call does and in which channel, as far as the outbox knows before making it: a
/// fixed channel by its id or name, an incident's channel by a stand-in unique to it. A call
/// that does not decode asks nothing of the platform.
fn describe(call: &Pending) -> Option<(CallKind, Option<String>)> {
    let incident = call.incident_id.map(|id| format!("incident:{id}"));
    Some(match &call.op {
        Op::CreateChannel { .. } => (CallKind::CreateChannel, None),
        Op::Invite { .. } => (CallKind::Invite, incident),
        Op::SetTopic { .. } => (CallKind::SetTopic, incident),
        Op::Post {
            to: Target::Channel(c),
            ..
        }
        | Op::PostAlert { channel: c, .. } => (
            CallKind::Post,
            Some(c.id.clone().unwrap_or_else(|| c.name.clone())),
        ),
        // A person's direct-message channel is known once opened: a stand-in unique to them.
        Op::Post {
            to: Target::Person(u),
            ..
        } => (CallKind::Post, Some(format!("person:{}", u.id))),
        Op::Post { .. } => (CallKind::Post, incident),
        Op::Pin { .. } => (CallKind::Pin, incident),
        // An announcement is in the paging channel, whose id the call reads when it is made.
        Op::Edit {
            kind: PostKind::Announcement,
            ..
        }
        | Op::EditAlert { .. } => (CallKind::Edit, None),
        Op::Edit { .. } => (CallKind::Edit, incident),
        Op::UploadPostmortem { .. } => (CallKind::Upload, incident),
        Op::Archive => (CallKind::Archive, incident),
        Op::Unarchive => (CallKind::Unarchive, incident),
        Op::Unreadable { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_commands::Pace;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).expect("time")
    }

    fn key() -> Key {
        (PlatformKind::Slack, "conversations.create:T1".to_owned())
    }

    fn bucket() -> Bucket {
        Bucket {
            key: key().1,
            pace: Some(Pace {
                calls: 20,
                per: Duration::from_secs(60),
            }),
        }
    }

    #[test]
    fn one_call_in_flight_then_a_429_pauses_and_paces_the_bucket() {
        let mut b = Buckets::default();
        assert!(matches!(b.admit(&key(), at(0)), Admit::Go));
        b.start(1, key(), &bucket(), at(0));
        assert!(matches!(b.admit(&key(), at(0)), Admit::Busy));
        b.finish(1, None);
        assert!(
            matches!(b.admit(&key(), at(10)), Admit::Go),
            "no 429: no wait"
        );
        b.start(2, key(), &bucket(), at(10));
        b.finish(2, Some(at(3_000)));
        assert!(matches!(b.admit(&key(), at(100)), Admit::At(t) if t == at(3_000)));
        assert!(matches!(b.admit(&key(), at(3_000)), Admit::Go));
        b.start(3, key(), &bucket(), at(3_000));
        b.finish(3, None);
        // Tier 2's pace: one call every 3 s.
        assert!(matches!(b.admit(&key(), at(3_100)), Admit::At(t) if t == at(6_000)));
        assert!(matches!(b.admit(&key(), at(6_000)), Admit::Go));
        b.start(4, key(), &bucket(), at(6_000));
        b.finish(4, None);
        // Quiet for the pace's whole period: calls go as they come again.
        assert!(matches!(b.admit(&key(), at(68_999)), Admit::Go));
        assert!(b.states[&key()].pacing_until.is_some(), "still pacing");
        assert!(matches!(b.admit(&key(), at(69_001)), Admit::Go));
        b.tidy(at(69_001));
        assert!(b.states.is_empty());
    }
}
