//! Which lanes' next calls may start now, without looking at every lane each time a call
//! ends: with a backlog of thousands of incidents, a look at every lane for each call made
//! cost more than all the calls.
//!
//! Each idle lane with a call is in one of these places, by what its next call (its head)
//! waits for: [`Waits::idle`] (nothing known: it is looked at next, oldest head first),
//! [`Waits::sleeping`] (a time), [`Waits::parked`] (a call of its rate-limit bucket to end),
//! [`Waits::on_incident`] (a call of its incident to end), [`Waits::on_probe`] (its platform's
//! token recheck to end). A lane leaves them when it is looked at, and comes back to `idle`
//! when what it waited for happens, when its head changes, or when it is idle again after a
//! call ([`super::Lanes::mark`]). An entry may be stale (the lane busy since, emptied, or with
//! another head): it is dropped when looked at.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use futures_util::stream::FuturesUnordered;
use klaxon_commands::PlatformKind;

use super::super::bucket::{self, Admit};
use super::super::record::Outcome;
use super::super::{Dispatcher, IN_FLIGHT, Op};
use super::{HELD_RECHECK, Lane, Lanes, is_announcement};
use crate::store::outbox::Pending;

/// Where idle lanes wait (see the module's documentation).
#[derive(Default)]
pub(super) struct Waits {
    /// Lanes to look at, by their head's id.
    pub idle: BTreeMap<i64, Lane>,
    /// Lanes whose head waits until a time (real time), by it and the head's id.
    pub sleeping: BTreeMap<(DateTime<Utc>, i64), Lane>,
    /// Lanes whose head waits for the call in flight of its rate-limit bucket.
    pub parked: HashMap<bucket::Key, HashSet<Lane>>,
    /// Lanes whose head waits for a call of its incident: its channel's creation, its
    /// announcement's post, an earlier call in another lane.
    pub on_incident: HashMap<i64, HashSet<Lane>>,
    /// Lanes whose head waits for its platform's token recheck.
    pub on_probe: HashSet<Lane>,
}

impl Waits {
    /// Forgets every wait: the lanes are looked at again from scratch.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

impl Lanes {
    /// Looks at `lane` again soon: its head changed, it is idle again, or what it waited for
    /// happened.
    pub(super) fn mark(&mut self, lane: &Lane) {
        if self.busy.contains(lane) {
            return;
        }
        if let Some(head) = self.queues.get(lane).and_then(VecDeque::front) {
            self.waits.idle.insert(head.id, lane.clone());
        }
    }

    /// The earliest time a sleeping lane wakes, dropping the stale entries before it.
    fn next_due(&mut self) -> Option<DateTime<Utc>> {
        while let Some(entry) = self.waits.sleeping.first_entry() {
            let (at, head) = *entry.key();
            let lane = entry.get();
            let waits = !self.busy.contains(lane)
                && self
                    .queues
                    .get(lane)
                    .and_then(VecDeque::front)
                    .is_some_and(|c| c.id == head);
            if waits {
                return Some(at);
            }
            entry.remove();
        }
        None
    }

    /// Looks at every lane again.
    pub(super) fn mark_all(&mut self) {
        self.waits.clear();
        for (lane, queue) in &self.queues {
            if let Some(head) = queue.front()
                && !self.busy.contains(lane)
            {
                self.waits.idle.insert(head.id, lane.clone());
            }
        }
    }

    /// Wakes every sleeping lane (the clock may have moved: tests move it, and a claim's
    /// lease and a token recheck are on the dispatcher's clock).
    pub(super) fn wake_sleeping(&mut self) {
        for lane in std::mem::take(&mut self.waits.sleeping).into_values() {
            self.mark(&lane);
        }
    }

    /// A call ended: what waited for it is looked at again.
    pub(super) fn ended(
        &mut self,
        lane: &Lane,
        call: &Pending,
        bucket: Option<&bucket::Key>,
        probe: bool,
    ) {
        self.mark(lane);
        if let Some(key) = bucket {
            self.bucket_freed(key);
        }
        if let Some(incident) = call.incident_id {
            for lane in self.waits.on_incident.remove(&incident).unwrap_or_default() {
                self.mark(&lane);
            }
        }
        if probe {
            for lane in std::mem::take(&mut self.waits.on_probe) {
                self.mark(&lane);
            }
        }
    }

    /// Bucket `key` has no call in flight now: the lanes parked on it are looked at again.
    pub(super) fn bucket_freed(&mut self, key: &bucket::Key) {
        for lane in self.waits.parked.remove(key).unwrap_or_default() {
            self.mark(&lane);
        }
    }

    /// Puts a call taken from its lane back at its head, the lane waiting as `wait` says.
    fn put_back(&mut self, lane: Lane, call: Pending, wait: Wait) {
        let id = call.id;
        self.queues
            .entry(lane.clone())
            .or_default()
            .push_front(call);
        self.wait(lane, id, wait);
    }

    fn wait(&mut self, lane: Lane, head: i64, wait: Wait) {
        let waits = &mut self.waits;
        match wait {
            Wait::Until(at) => {
                waits.sleeping.insert((at, head), lane);
            }
            Wait::Bucket(key) => {
                waits.parked.entry(key).or_default().insert(lane);
            }
            Wait::Incident(incident, at) => {
                if let Some(at) = at {
                    waits.sleeping.insert((at, head), lane.clone());
                }
                waits.on_incident.entry(incident).or_default().insert(lane);
            }
            Wait::Probe => {
                waits.on_probe.insert(lane);
            }
        }
    }
}

/// What a lane's head waits for.
enum Wait {
    Until(DateTime<Utc>),
    Bucket(bucket::Key),
    /// A call of the incident to end (or, at most, until then).
    Incident(i64, Option<DateTime<Utc>>),
    Probe,
}

impl Dispatcher {
    /// Starts the ready heads of idle lanes, oldest first, up to the bound; returns when the
    /// earliest waiting head falls due.
    pub(super) fn start_ready<'a>(
        &'a self,
        lanes: &mut Lanes,
        flying: &mut FuturesUnordered<
            futures_util::future::BoxFuture<'a, (Lane, Pending, Outcome)>,
        >,
    ) -> Option<DateTime<Utc>> {
        let now = Utc::now();
        let clock_now = self.clock.now();
        let pauses = self.pauses().clone();
        let mut buckets = self.buckets();
        buckets.tidy(now);
        // Lanes parked on a bucket a call has just left are looked at with the others, in id
        // order: a call read since must not take the bucket's turn before an older one
        // parked there (the pump may see the read before the release).
        for key in buckets.take_released() {
            lanes.bucket_freed(&key);
        }
        while let Some(entry) = lanes.waits.sleeping.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let lane = entry.remove();
            lanes.mark(&lane);
        }
        while flying.len() < IN_FLIGHT {
            let Some((head, lane)) = lanes.waits.idle.pop_first() else {
                break;
            };
            if lanes.busy.contains(&lane) {
                continue;
            }
            let Some(call) = lanes.queues.get(&lane).and_then(VecDeque::front) else {
                continue;
            };
            if call.id != head {
                continue;
            }
            if let Some(wait) = self.head_waits(lanes, &lane, call, &pauses, now, clock_now) {
                lanes.wait(lane, head, wait);
                continue;
            }
            let Some(call) = lanes.queues.get_mut(&lane).and_then(VecDeque::pop_front) else {
                continue;
            };
            if let (Some(at), Some(incident)) =
                (lanes.sibling_running(&lane, &call, now), call.incident_id)
            {
                lanes.put_back(lane, call, Wait::Incident(incident, Some(at)));
                continue;
            }
            let platform = call.tenant.platform;
            // A call waiting on its rate-limit bucket is not started: it holds no slot.
            let bucket = self
                .apis
                .get(&platform)
                .and_then(|api| bucket::of(api.as_ref(), &call));
            if let Some((key, _, _)) = &bucket {
                match buckets.admit(key, now) {
                    Admit::Go => {}
                    Admit::At(at) => {
                        lanes.put_back(lane, call, Wait::Until(at));
                        continue;
                    }
                    Admit::Busy => {
                        let key = key.clone();
                        lanes.put_back(lane, call, Wait::Bucket(key));
                        continue;
                    }
                }
            }
            if pauses.contains_key(&platform) {
                if lanes.probing.contains_key(&platform) {
                    lanes.put_back(lane, call, Wait::Probe);
                    continue;
                }
                lanes.probing.insert(platform, call.id);
            }
            if let Some((key, b, width)) = bucket {
                buckets.start(call.id, key, &b, width, now);
            }
            lanes.busy.insert(lane.clone());
            lanes.flying.insert(call.id);
            if let Some(incident) = call.incident_id {
                if matches!(call.op, Op::CreateChannel { .. }) {
                    lanes.creating.insert(incident, now);
                }
                if is_announcement(&call.op) {
                    lanes.announcing_now.insert(incident);
                }
                let started = lanes.started.entry(incident).or_default();
                started.push((call.id, lane.clone(), now));
            }
            flying.push(Box::pin(async move {
                let mut call = call;
                let outcome = self.make(&mut call).await;
                (lane, call, outcome)
            }));
        }
        lanes.next_due()
    }

    /// What an idle lane's head waits for before it may be taken, if anything.
    fn head_waits(
        &self,
        lanes: &Lanes,
        lane: &Lane,
        call: &Pending,
        pauses: &BTreeMap<PlatformKind, super::super::Pause>,
        now: DateTime<Utc>,
        clock_now: DateTime<Utc>,
    ) -> Option<Wait> {
        if let Some(claim) = call
            .claim
            .as_ref()
            .filter(|c| c.held_by_other(&self.owner, clock_now))
        {
            // Another replica is making the lane's head: the lane waits (it never skips to
            // a later call) until the call ends, which a read [`HELD_RECHECK`] later sees,
            // or until the claim lapses (they died mid-call) and it may be taken over.
            // The lease is on the dispatcher's clock; the wait is returned in real time.
            let left = (claim.until - clock_now).max(chrono::Duration::zero());
            let recheck = chrono::Duration::from_std(HELD_RECHECK).unwrap_or_default();
            let at = now + left.min(recheck) + chrono::Duration::milliseconds(1);
            return Some(Wait::Until(at));
        }
        if let Some(pause) = pauses.get(&call.tenant.platform) {
            if lanes.probing.contains_key(&call.tenant.platform) {
                return Some(Wait::Probe);
            }
            if pause.recheck_at > clock_now {
                // The recheck is on the dispatcher's clock; the wait is returned in real
                // time, like every other due time here.
                return Some(Wait::Until(now + (pause.recheck_at - clock_now)));
            }
        }
        if let (Lane::Topic(tenant, incident), Op::SetTopic { .. }) = (lane, &call.op)
            && lanes.creating(tenant, *incident)
        {
            return Some(Wait::Incident(*incident, None));
        }
        if let Lane::Announcement(tenant, incident) = lane
            && (lanes.creating(tenant, *incident) || lanes.announcing.contains(incident))
        {
            return Some(Wait::Incident(*incident, None));
        }
        if let Some(left) = self.debounced(call) {
            return Some(Wait::Until(now + left));
        }
        if let Some(at) = call.not_before.filter(|at| *at > now) {
            return Some(Wait::Until(at));
        }
        None
    }
}
