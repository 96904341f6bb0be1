//! Lanes: which pending call may go now. Each lane runs its calls one at a time in id order;
//! lanes never wait for each other, and at most [`super::IN_FLIGHT`] calls are in flight at
//! once.
//!
//! A lane is what a call must stay in order with: an incident's calls (its channel before
//! anything posted in it), the same incident's topic edits (Discord allows two per 10 minutes
//! per channel, so a postponed topic must not hold back posts; only the newest topic is ever
//! sent), one shared channel's posts (the paging channel: announcements in the order of the
//! declares), or one person's direct messages. One task polls every call in flight; none of
//! them sleeps in a shared worker, and as soon as one call ends its lane's next call starts,
//! without waiting for the others.
//! Before a call starts its rate-limit bucket must admit it ([`super::bucket`]); a call that
//! waits on its bucket is left in its lane and takes no in-flight slot. A lane whose head
//! another replica has claimed waits too (it never skips ahead): the order holds across
//! replicas. Which idle lanes are looked at when is [`ready`]'s; how the table is read,
//! [`pump`]'s.

mod pump;
mod ready;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use klaxon_commands::{PlatformKind, Tenant};

use super::record::Outcome;
use super::{Dispatcher, Op};
use crate::store::posts::PostKind;
use crate::store::{outbox::Group, outbox::Pending, outbox::Read};

pub(super) use pump::LOAD;

/// What a call must stay in order with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Lane {
    /// An incident's calls (or, with no incident, the alert announcements and their edits).
    Incident(Tenant, Option<i64>),
    /// An incident's topic edits.
    Topic(Tenant, i64),
    /// Edits of an incident's announcement, which is posted in a shared lane: they wait for
    /// it to be posted, and for the incident's channel, which they name.
    Announcement(Tenant, i64),
    /// Posts to one fixed channel, such as the paging channel.
    Shared(Tenant, String),
    /// Direct messages to one person (by user id): one refused or retried DM holds back only
    /// that person's next ones.
    Person(Tenant, String),
}

impl Lane {
    fn of(call: &Pending) -> Self {
        let tenant = call.tenant.clone();
        match (&call.op, call.incident_id) {
            (Op::SetTopic { .. }, Some(incident)) => Self::Topic(tenant, incident),
            (
                Op::Edit {
                    kind: PostKind::Announcement,
                    ..
                },
                Some(incident),
            ) => Self::Announcement(tenant, incident),
            (
                Op::Post {
                    to: super::Target::Channel(c),
                    ..
                },
                _,
            ) => Self::Shared(tenant, c.id.clone().unwrap_or_else(|| c.name.clone())),
            (
                Op::Post {
                    to: super::Target::Person(u),
                    ..
                },
                _,
            ) => Self::Person(tenant, u.id.clone()),
            (_, incident) => Self::Incident(tenant, incident),
        }
    }
}

/// The calls read from the table, by lane, and what is in flight.
#[derive(Default)]
struct Lanes {
    queues: HashMap<Lane, VecDeque<Pending>>,
    busy: HashSet<Lane>,
    flying: HashSet<i64>,
    /// Platforms with a token recheck in flight (at most one call while paused).
    probing: HashMap<PlatformKind, i64>,
    /// Incidents whose channel creation is in flight.
    creating: HashMap<i64, DateTime<Utc>>,
    /// Incidents whose announcement is still to be posted.
    announcing: HashSet<i64>,
    /// Incidents whose announcement post is in flight.
    announcing_now: HashSet<i64>,
    /// The calls in flight by incident: id, lane and when each started.
    started: HashMap<i64, Vec<(i64, Lane, DateTime<Utc>)>>,
    /// What the last whole read left out (an incident's [`store::outbox::PER_INCIDENT`], or
    /// past [`LOAD`]), its calls taken out: a lane it cut that runs dry reads the table again.
    coverage: Read,
    /// The largest call id read: on SQLite a read of what is new reads past it.
    high_water: i64,
    /// Incidents the last whole read cut whose lanes ran dry: the next read of what is new
    /// reads on past what was read of them.
    top_up: HashSet<Group>,
    /// A lane of posts to a fixed channel or a person ran dry while the last whole read had
    /// cut those posts: the next read reads on past them.
    shared_top_up: bool,
    /// On SQLite (one writer, ids committed in order): what the caps left out is read on
    /// from where they cut it, never by reading the table whole again.
    by_id: bool,
    /// Where idle lanes wait for their next call to be ready ([`ready`]).
    waits: ready::Waits,
}

/// How the table is to be read next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reread {
    No,
    /// Only the calls queued since the last read.
    New,
    /// Every lane's next calls.
    All,
}

impl Lanes {
    /// Replaces the queues with what the table holds now, leaving out calls in flight.
    fn load(&mut self, mut read: Read) {
        self.queues.clear();
        let calls = std::mem::take(&mut read.calls);
        self.high_water = self.high_water.max(read.newest);
        self.coverage = read;
        self.top_up.clear();
        self.shared_top_up = false;
        self.announcing.clone_from(&self.announcing_now);
        for call in calls {
            self.high_water = self.high_water.max(call.id);
            if let (Some(incident), true) = (call.incident_id, is_announcement(&call.op)) {
                self.announcing.insert(incident);
            }
            if self.flying.contains(&call.id) {
                continue;
            }
            self.queues
                .entry(Lane::of(&call))
                .or_default()
                .push_back(call);
        }
        self.mark_all();
    }

    /// Adds calls queued since the last read, each behind its lane's. Returns whether some
    /// were left for a whole read: their incident may have calls no read has brought yet.
    /// Those of an incident the last whole read cut are left for its next top-up; on SQLite,
    /// so are those of an incident not read while some were left out (it is read from its
    /// first call), and posts past the shared posts read (read on from them).
    fn add(&mut self, calls: Vec<Pending>) -> bool {
        let mut left = false;
        for call in calls {
            self.high_water = self.high_water.max(call.id);
            if !self.coverage.covers(&call) {
                let group = (call.tenant.clone(), call.incident_id);
                if call.op.is_shared_post() {
                    left |= !self.by_id;
                } else if self.coverage.cut.contains(&group) {
                    // Its next top-up reads it.
                } else if self.by_id {
                    self.coverage.unknown(group.clone());
                    self.top_up.insert(group);
                } else {
                    left = true;
                }
                continue;
            }
            self.push(call);
        }
        left
    }

    /// What a read of the incidents the last whole read left out brought: those not known
    /// yet join their lanes.
    fn paged(&mut self, page: Read) {
        for call in self.coverage.merge_page(page) {
            self.push(call);
        }
    }

    /// The posts to fixed channels and people past those read, as a read on brought them.
    fn shared_topped_up(&mut self, calls: Vec<Pending>, limit: i64) {
        self.shared_top_up = false;
        self.coverage.shared_topped_up(&calls, limit);
        for call in calls {
            self.push(call);
        }
    }

    /// The next calls of incidents the last whole read cut, as a top-up read them.
    fn topped_up(&mut self, group: &Group, calls: Vec<Pending>, limit: i64) {
        self.coverage.topped_up(group, &calls, limit);
        for call in calls {
            self.push(call);
        }
    }

    /// Puts a call read after its lane's behind them, unless it is there or in flight.
    fn push(&mut self, call: Pending) {
        let lane = Lane::of(&call);
        let queue = self.queues.entry(lane.clone()).or_default();
        if self.flying.contains(&call.id) || queue.back().is_some_and(|c| c.id >= call.id) {
            return;
        }
        if let (Some(incident), true) = (call.incident_id, is_announcement(&call.op)) {
            self.announcing.insert(incident);
        }
        let head = queue.is_empty();
        queue.push_back(call);
        if head {
            self.mark(&lane);
        }
    }

    /// Puts a call that ended without being made back at its lane's head, to be looked at
    /// again.
    fn requeue(&mut self, lane: Lane, call: Pending) {
        self.queues
            .entry(lane.clone())
            .or_default()
            .push_front(call);
        self.mark(&lane);
    }

    /// Whether an incident still has its channel to create (its topic waits for it).
    fn creating(&self, tenant: &Tenant, incident: i64) -> bool {
        self.creating.contains_key(&incident)
            || self
                .queues
                .get(&Lane::Incident(tenant.clone(), Some(incident)))
                .is_some_and(|q| q.iter().any(|c| matches!(c.op, Op::CreateChannel { .. })))
    }

    /// An earlier call of the same incident, in another lane, started less than
    /// [`SIBLING_WAIT`] ago: `call` waits for it (until the returned time at most), so that
    /// an incident's calls keep their order whenever nothing holds them up. Calls that
    /// cannot go yet (postponed, behind a backlog in their lane) hold nothing.
    fn sibling_running(
        &self,
        lane: &Lane,
        call: &Pending,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let incident = call.incident_id?;
        let wait = chrono::Duration::from_std(SIBLING_WAIT).unwrap_or_default();
        self.started
            .get(&incident)?
            .iter()
            .filter(|(id, other, since)| *id < call.id && other != lane && now - *since < wait)
            .map(|(_, _, since)| *since + wait)
            .min()
    }
}

/// Whether a call posts an incident's announcement.
fn is_announcement(op: &Op) -> bool {
    matches!(
        op,
        Op::Post {
            track: Some(PostKind::Announcement),
            ..
        }
    )
}

/// How soon a lane whose next call another replica is making looks again: that replica goes
/// on with the calls it read, and this one makes those queued after its read.
const HELD_RECHECK: Duration = Duration::from_secs(1);

/// Longest a call waits for an earlier call of its incident in another lane (an announcement
/// for its incident's channel creation, the channel's summary for the announcement).
const SIBLING_WAIT: Duration = Duration::from_secs(2);

impl Dispatcher {
    /// Records that a call ended; its lane's next call may go. Returns how the table should
    /// be read again: for what the call queued, or for its lane's next calls the last whole
    /// read left out.
    fn finish(&self, lanes: &mut Lanes, lane: Lane, mut call: Pending, outcome: Outcome) -> Reread {
        let limited = match outcome {
            Outcome::Retry { at, limited: true } => Some(at),
            _ => None,
        };
        let bucket = self.buckets().finish(call.id, limited);
        lanes.busy.remove(&lane);
        lanes.flying.remove(&call.id);
        let probe = lanes.probing.get(&call.tenant.platform) == Some(&call.id);
        if probe {
            lanes.probing.remove(&call.tenant.platform);
        }
        if let Some(incident) = call.incident_id {
            if matches!(call.op, Op::CreateChannel { .. }) {
                lanes.creating.remove(&incident);
            }
            if let Some(started) = lanes.started.get_mut(&incident) {
                started.retain(|(id, _, _)| *id != call.id);
                if started.is_empty() {
                    lanes.started.remove(&incident);
                }
            }
        }
        // A lane run dry whose calls the last whole read did not all bring reads on: a cut
        // incident by a top-up, the rest by a whole read.
        let mut dry = matches!(outcome, Outcome::Done { .. } | Outcome::Gone)
            && lanes.queues.get(&lane).is_none_or(VecDeque::is_empty)
            && !lanes.coverage.covers(&call);
        let group = (call.tenant.clone(), call.incident_id);
        if dry && call.op.is_shared_post() && lanes.by_id {
            lanes.shared_top_up = true;
            dry = false;
        } else if dry && !call.op.is_shared_post() && lanes.coverage.cut.contains(&group) {
            lanes.top_up.insert(group);
            dry = lanes.coverage.absent && !lanes.by_id;
        } else if dry && !call.op.is_shared_post() && lanes.by_id {
            // Read before the whole read that left its incident out: read it from its first.
            lanes.coverage.unknown(group.clone());
            lanes.top_up.insert(group);
            dry = false;
        }
        if let (Some(incident), true) = (call.incident_id, is_announcement(&call.op)) {
            lanes.announcing_now.remove(&incident);
            if matches!(outcome, Outcome::Done { .. } | Outcome::Gone) {
                lanes.announcing.remove(&incident);
            }
        }
        lanes.ended(&lane, &call, bucket.as_ref(), probe);
        let more = if dry {
            Reread::All
        } else if lanes.top_up.is_empty() && !lanes.shared_top_up {
            Reread::No
        } else {
            Reread::New
        };
        match outcome {
            Outcome::Done { queued: true } => more.max(Reread::New),
            Outcome::Done { queued: false } | Outcome::Gone => more,
            Outcome::Retry { at, .. } => {
                call.attempts += 1;
                call.not_before = Some(at);
                lanes.requeue(lane, call);
                Reread::No
            }
            Outcome::Paused | Outcome::Deferred => {
                lanes.requeue(lane, call);
                Reread::No
            }
            // Another replica has the call: what it read of the lane is stale, so the lane
            // waits for the next read (which shows the claim, or the call done).
            Outcome::Lost => {
                lanes.queues.remove(&lane);
                Reread::All
            }
        }
    }
}
