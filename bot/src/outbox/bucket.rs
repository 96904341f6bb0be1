//! Rate-limit buckets shared by the lanes: every call counts against the bucket its adapter
//! names (`ChatApi::bucket`: a Slack method per workspace, `chat.postMessage` per channel, a
//! Discord route bucket). A bucket whose calls' order shows (channel creations, a channel's
//! posts) sends one call at a time to the platform, oldest first (lowest outbox id); one
//! whose order does not (edits, invitations, topics, pins of different incidents, each
//! incident's own calls kept in order by its lane) sends up to [`AHEAD`] at once ([`width`]).
//! Up to [`AHEAD`] of a bucket's calls may be started at once: what a call
//! does before it reaches the platform (reading its incident, claiming a channel's name in a
//! committed write) overlaps with the calls before it, and only the platform request waits
//! its turn at the bucket's gate ([`Buckets::pass`]). A call leaves the gate as soon as the
//! platform has answered it ([`Buckets::release`]): the next one goes while the first's
//! outcome is being committed. One 429 pauses the whole bucket until its `Retry-After`: the
//! calls waiting at its gate give up their turn without being sent and go back to their
//! lanes, and the bucket's calls are then started one at a time at its pace (the SDK's figure:
//! Tier 2 is one call every 3 s), oldest first, until the bucket has been quiet for a whole
//! period of its pace. So does a bucket whose gate kept a call waiting past the gate's limit
//! (a hung call ahead of it), until its calls have drained. A call waiting on its bucket to
//! start is not started, so it holds no in-flight slot and calls of other buckets go on.
//!
//! Times are real time, like every platform wait in the outbox.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use klaxon_commands::{Bucket, CallKind, ChatApi, PlatformKind};

use super::{Op, Target};
use crate::store::outbox::Pending;
use crate::store::posts::PostKind;

/// How long a bucket with no known pace keeps releasing one call at a time after a 429.
const UNKNOWN_PACE_QUIET: Duration = Duration::from_secs(60);

/// How many calls of one bucket may be started at once (getting ready, waiting at the gate,
/// or at the platform).
pub(super) const AHEAD: usize = 4;

/// A bucket's key, on its platform.
pub(super) type Key = (PlatformKind, String);

/// What one bucket is doing.
#[derive(Debug, Default)]
struct State {
    /// Its calls started and not yet answered, by id: the lowest goes to the platform next.
    started: BTreeSet<i64>,
    /// Its calls at the platform now.
    sending: BTreeSet<i64>,
    /// How many may be at the platform at once while it is not pacing: the narrowest
    /// [`width`] of the calls started since it last had none (on Discord a channel's posts
    /// and uploads share a bucket, and the posts keep it one call wide).
    width: usize,
    /// One call at a time until `started` is empty: a call waited at the gate past its limit.
    serial: bool,
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

impl State {
    /// Call `id` is no longer started (answered, ended or gave up its turn).
    fn forget(&mut self, id: i64) {
        self.started.remove(&id);
        self.sending.remove(&id);
        if self.started.is_empty() {
            self.serial = false;
        }
    }

    /// A 429 asked the bucket to wait until `at`.
    fn pause(&mut self, key: &Key, at: DateTime<Utc>) {
        let until = self.paused_until.map_or(at, |p| p.max(at));
        if self.paused_until != Some(until) {
            tracing::info!(bucket = %key.1, until = %until, "rate limited: the bucket's calls wait, then go at its pace");
        }
        self.paused_until = Some(until);
        self.next_at = Some(until);
        self.pacing_until = Some(crate::clock::after(until, self.quiet));
    }
}

/// The buckets, kept across the dispatcher's passes (a pause outlives the pass that saw it).
#[derive(Debug, Default)]
pub(super) struct Buckets {
    states: HashMap<Key, State>,
    /// The bucket of each call started.
    flying: HashMap<i64, Key>,
    /// Buckets with room for another call since the dispatcher last looked
    /// ([`Buckets::take_released`]): their next calls may start.
    released: Vec<Key>,
}

/// Whether a call may start now.
pub(super) enum Admit {
    Go,
    /// Not before then.
    At(DateTime<Utc>),
    /// When one of the bucket's calls started ends.
    Busy,
}

/// Whether a started call may be sent to the platform now ([`Buckets::pass`]).
pub(super) enum Pass {
    /// It is the bucket's call at the platform now (or it has no bucket).
    Go,
    /// An older call of its bucket goes first, or is at the platform.
    Wait,
    /// The bucket was paused by a 429 since the call started: it is not to be sent now.
    Paused,
}

impl Buckets {
    /// Forgets the calls in flight (a new pass starts with none).
    pub(super) fn reset_flying(&mut self) {
        self.flying.clear();
        self.released.clear();
        for state in self.states.values_mut() {
            state.started.clear();
            state.sending.clear();
            state.serial = false;
        }
    }

    /// Whether a call of bucket `key` may start at `now`.
    pub(super) fn admit(&mut self, key: &Key, now: DateTime<Utc>) -> Admit {
        let Some(state) = self.states.get_mut(key) else {
            return Admit::Go;
        };
        if let Some(at) = state.paused_until.filter(|at| *at > now) {
            return Admit::At(at);
        }
        if state.pacing_until.is_some_and(|until| until <= now) {
            state.pacing_until = None;
            state.next_at = None;
        }
        let one_at_a_time = state.pacing_until.is_some() || state.serial;
        if state.started.len() >= AHEAD || (one_at_a_time && !state.started.is_empty()) {
            return Admit::Busy;
        }
        match state.next_at.filter(|at| *at > now) {
            Some(at) if state.pacing_until.is_some() => Admit::At(at),
            _ => Admit::Go,
        }
    }

    /// Call `id` of bucket `bucket` starts at `now`; `width`: how many of the bucket's calls
    /// may be at the platform at once ([`of`]).
    pub(super) fn start(
        &mut self,
        id: i64,
        key: Key,
        bucket: &Bucket,
        width: usize,
        now: DateTime<Utc>,
    ) {
        let state = self.states.entry(key.clone()).or_default();
        state.width = if state.started.is_empty() {
            width
        } else {
            state.width.min(width)
        };
        state.started.insert(id);
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

    /// Whether started call `id` may be sent to the platform at `now`; on [`Pass::Go`] it is
    /// one of the bucket's calls at the platform until [`Self::release`], [`Self::limited`]
    /// or [`Self::finish`]. A bucket one call wide sends its oldest started call, and only
    /// once the one before has been answered; so does any bucket while it is pacing after a
    /// 429 or serial after a gate timeout. A call sent again (the next name for a channel)
    /// takes its turn again.
    pub(super) fn pass(&mut self, id: i64, now: DateTime<Utc>) -> Pass {
        let Some(key) = self.flying.get(&id) else {
            return Pass::Go;
        };
        let state = self.states.entry(key.clone()).or_default();
        if state.paused_until.is_some_and(|at| at > now) {
            return Pass::Paused;
        }
        state.started.insert(id);
        let width = if state.serial || state.pacing_until.is_some() {
            1
        } else {
            state.width.max(1)
        };
        if state.sending.len() >= width || (width == 1 && state.started.first() != Some(&id)) {
            return Pass::Wait;
        }
        state.sending.insert(id);
        Pass::Go
    }

    /// Call `id` waited at its bucket's gate past the limit and gives up its turn: the
    /// bucket starts one call at a time until its calls have drained.
    pub(super) fn withdraw(&mut self, id: i64) {
        let Some(key) = self.flying.get(&id) else {
            return;
        };
        if let Some(state) = self.states.get_mut(key) {
            state.forget(id);
            state.serial = !state.started.is_empty();
        }
    }

    /// Call `id` ended; `limited`: the platform's rate limit refused it, asking to wait until
    /// then.
    /// Returns the call's bucket, if it had one.
    pub(super) fn finish(&mut self, id: i64, limited: Option<DateTime<Utc>>) -> Option<Key> {
        let key = self.flying.remove(&id)?;
        let Some(state) = self.states.get_mut(&key) else {
            return Some(key);
        };
        state.forget(id);
        if let Some(at) = limited {
            state.pause(&key, at);
        }
        Some(key)
    }

    /// The platform refused call `id` for its rate limit, asking to wait until `at`: the
    /// whole bucket waits, and the calls at its gate give up their turn.
    pub(super) fn limited(&mut self, id: i64, at: DateTime<Utc>) {
        let Some(key) = self.flying.get(&id) else {
            return;
        };
        if let Some(state) = self.states.get_mut(key) {
            state.forget(id);
            state.pause(key, at);
        }
    }

    /// The platform answered call `id` without refusing it for its rate limit (what it did is
    /// recorded next): the next call of its bucket may go. Returns whether it was in a bucket.
    pub(super) fn release(&mut self, id: i64) -> bool {
        let Some(key) = self.flying.get(&id) else {
            return false;
        };
        if let Some(state) = self.states.get_mut(key) {
            state.forget(id);
        }
        self.released.push(key.clone());
        true
    }

    /// The buckets released since the last look.
    pub(super) fn take_released(&mut self) -> Vec<Key> {
        std::mem::take(&mut self.released)
    }

    /// Drops buckets with nothing to remember.
    pub(super) fn tidy(&mut self, now: DateTime<Utc>) {
        self.states.retain(|_, s| {
            !s.started.is_empty()
                || s.paused_until.is_some_and(|at| at > now)
                || s.pacing_until.is_some_and(|at| at > now)
        });
    }
}

/// The bucket a call counts against on `api`, with its key and its [`width`].
pub(super) fn of(api: &dyn ChatApi, call: &Pending) -> Option<(Key, Bucket, usize)> {
    let (kind, channel) = describe(call)?;
    let bucket = api.bucket(kind, &call.tenant.workspace, channel.as_deref())?;
    Some((
        (call.tenant.platform, bucket.key.clone()),
        bucket,
        width(kind),
    ))
}

/// How many calls of a bucket may be at the platform at once: one where the order they are
/// made in shows (channels are created, and a channel's posts appear, in the order they were
/// queued), [`AHEAD`] where it does not: edits, invitations, topics, pins, uploads and
/// archives of different incidents, since each incident's own calls keep their order in its
/// lane (one call of a lane at a time).
fn width(kind: CallKind) -> usize {
    match kind {
        CallKind::CreateChannel | CallKind::Post => 1,
        CallKind::Invite
        | CallKind::SetTopic
        | CallKind::Edit
        | CallKind::Pin
        | CallKind::Upload
        | CallKind::Archive
        | CallKind::Unarchive => AHEAD,
    }
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
    fn calls_start_ahead_but_reach_the_platform_one_at_a_time_oldest_first() {
        let mut b = Buckets::default();
        for id in [3, 1, 2, 4] {
            assert!(matches!(b.admit(&key(), at(0)), Admit::Go));
            b.start(id, key(), &bucket(), 1, at(0));
        }
        assert!(
            matches!(b.admit(&key(), at(0)), Admit::Busy),
            "AHEAD started"
        );
        assert!(matches!(b.pass(3, at(1)), Pass::Wait), "1 is older");
        assert!(matches!(b.pass(1, at(1)), Pass::Go));
        assert!(
            matches!(b.pass(2, at(1)), Pass::Wait),
            "1 is at the platform"
        );
        assert!(b.release(1));
        assert_eq!(b.take_released(), vec![key()]);
        assert!(matches!(b.admit(&key(), at(2)), Admit::Go), "room again");
        assert!(matches!(b.pass(2, at(2)), Pass::Go));
        // A 429: the bucket pauses, and the calls at its gate are not sent.
        b.limited(2, at(3_000));
        assert!(matches!(b.pass(3, at(3)), Pass::Paused));
        assert!(matches!(b.pass(4, at(3)), Pass::Paused));
        for id in [2, 3, 4] {
            b.finish(id, None);
        }
        b.finish(1, None);
        assert!(matches!(b.admit(&key(), at(100)), Admit::At(t) if t == at(3_000)));
        // Then one at a time at the pace, however many wait.
        assert!(matches!(b.admit(&key(), at(3_000)), Admit::Go));
        b.start(2, key(), &bucket(), 1, at(3_000));
        assert!(matches!(b.admit(&key(), at(3_000)), Admit::Busy));
        assert!(matches!(b.pass(2, at(3_000)), Pass::Go));
        b.release(2);
        b.finish(2, None);
        assert!(matches!(b.admit(&key(), at(3_100)), Admit::At(t) if t == at(6_000)));
    }

    #[test]
    fn a_bucket_whose_order_does_not_show_sends_its_started_calls_at_once_until_a_429() {
        let mut b = Buckets::default();
        for id in [1, 2, 3, 4] {
            b.start(id, key(), &bucket(), AHEAD, at(0));
        }
        for id in [4, 2, 3, 1] {
            assert!(matches!(b.pass(id, at(1)), Pass::Go), "{id} goes at once");
        }
        // A 429: the bucket pauses; the others at the platform end as they end.
        b.limited(1, at(3_000));
        for id in [1, 2, 3, 4] {
            b.finish(id, None);
        }
        // Then one at a time at its pace, oldest first, as a bucket one call wide.
        assert!(matches!(b.admit(&key(), at(3_000)), Admit::Go));
        b.start(5, key(), &bucket(), AHEAD, at(3_000));
        assert!(matches!(b.admit(&key(), at(3_000)), Admit::Busy));
        assert!(matches!(b.pass(5, at(3_000)), Pass::Go));
        b.release(5);
        b.finish(5, None);
        assert!(
            matches!(b.admit(&key(), at(3_100)), Admit::At(t) if t == at(6_000)),
            "at its pace"
        );
    }

    #[test]
    fn a_call_whose_order_shows_keeps_a_shared_bucket_one_call_wide() {
        let mut b = Buckets::default();
        b.start(1, key(), &bucket(), 1, at(0));
        b.start(2, key(), &bucket(), 1, at(0));
        b.start(3, key(), &bucket(), AHEAD, at(0));
        assert!(matches!(b.pass(1, at(0)), Pass::Go));
        assert!(
            matches!(b.pass(2, at(0)), Pass::Wait),
            "1 is at the platform"
        );
        assert!(matches!(b.pass(3, at(0)), Pass::Wait));
    }

    #[test]
    fn a_call_that_gave_up_its_turn_makes_the_bucket_serial_until_it_drains() {
        let mut b = Buckets::default();
        b.start(1, key(), &bucket(), 1, at(0));
        b.start(2, key(), &bucket(), 1, at(0));
        assert!(matches!(b.pass(1, at(0)), Pass::Go));
        assert!(matches!(b.pass(2, at(0)), Pass::Wait));
        b.withdraw(2);
        b.finish(2, None);
        assert!(
            matches!(b.admit(&key(), at(1)), Admit::Busy),
            "1 still hangs"
        );
        b.finish(1, None);
        assert!(matches!(b.admit(&key(), at(2)), Admit::Go));
        b.start(3, key(), &bucket(), 1, at(2));
        assert!(
            matches!(b.admit(&key(), at(2)), Admit::Go),
            "drained: ahead again"
        );
    }

    #[test]
    fn a_call_sent_again_takes_its_turn_again() {
        let mut b = Buckets::default();
        b.start(1, key(), &bucket(), 1, at(0));
        b.start(2, key(), &bucket(), 1, at(0));
        assert!(matches!(b.pass(1, at(0)), Pass::Go));
        b.release(1);
        // Its name was taken: it asks again, before 2.
        assert!(matches!(b.pass(1, at(1)), Pass::Go));
        assert!(matches!(b.pass(2, at(1)), Pass::Wait));
    }

    #[test]
    fn one_call_in_flight_then_a_429_pauses_and_paces_the_bucket() {
        let mut b = Buckets::default();
        assert!(matches!(b.admit(&key(), at(0)), Admit::Go));
        b.start(1, key(), &bucket(), 1, at(0));
        b.finish(1, None);
        assert!(
            matches!(b.admit(&key(), at(10)), Admit::Go),
            "no 429: no wait"
        );
        b.start(2, key(), &bucket(), 1, at(10));
        b.finish(2, Some(at(3_000)));
        assert!(matches!(b.admit(&key(), at(100)), Admit::At(t) if t == at(3_000)));
        assert!(matches!(b.admit(&key(), at(3_000)), Admit::Go));
        b.start(3, key(), &bucket(), 1, at(3_000));
        b.finish(3, None);
        // Tier 2's pace: one call every 3 s.
        assert!(matches!(b.admit(&key(), at(3_100)), Admit::At(t) if t == at(6_000)));
        assert!(matches!(b.admit(&key(), at(6_000)), Admit::Go));
        b.start(4, key(), &bucket(), 1, at(6_000));
        b.finish(4, None);
        // Quiet for the pace's whole period: calls go as they come again.
        assert!(matches!(b.admit(&key(), at(68_999)), Admit::Go));
        assert!(b.states[&key()].pacing_until.is_some(), "still pacing");
        assert!(matches!(b.admit(&key(), at(69_001)), Admit::Go));
        b.tidy(at(69_001));
        assert!(b.states.is_empty());
    }
}
