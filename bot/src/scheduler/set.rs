//! Status-update reminders fired in sets. Every open incident has one, so after a restart, a
//! mass declare or a cadence change many fall due together. A set of up to [`SET`] of them is
//! read, claimed and fired in one transaction, a few statements per table for the whole set,
//! not a few per reminder: the same posts, timeline entries and next due times as
//! firing each on its own (`Scheduler::fire`), committed together.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::{Fired, Scheduler, held, record_firing};
use crate::engine::reminders::{self, klaxon};
use crate::store::outbox::{self, Op, Target};
use crate::store::reminders::{Kind, Reminder};
use crate::store::timeline::EntryKind;
use crate::store::{self, Incident};

/// Most status-update reminders fired in one transaction (its statements split the set into
/// lists of at most [`MOST`](crate::store::batch::MOST) values).
pub(super) const SET: usize = 500;

/// What firing one status-update reminder does, decided from its incident.
enum Step {
    /// The incident is gone: the schedule ends.
    End,
    /// The incident is resolved: its open-phase reminders are cancelled.
    Cancel,
    /// Quiet hours: moved to when they end, not counted as a firing.
    Postpone(DateTime<Utc>),
    /// The IC is reminded, and the next reminder is due at this time.
    Remind(DateTime<Utc>),
}

impl Scheduler {
    /// Fires the earliest due status-update reminders, up to [`SET`], in one transaction.
    /// Returns what fired, numbered from `picks` in due order, and whether the set was full
    /// (more may be due); `None` when its transaction failed and was rolled back, so that the
    /// caller fires them one at a time.
    pub(super) async fn fire_set(
        &self,
        picks: &AtomicU64,
    ) -> anyhow::Result<Option<(Vec<(u64, Fired)>, bool)>> {
        let now = self.clock.now();
        match self.try_set(now).await {
            Ok((set, posted, full)) => {
                if posted {
                    self.outbox_wake.notify_one();
                }
                let first = picks.fetch_add(set.len() as u64, Ordering::Relaxed);
                let fired = (first..)
                    .zip(set)
                    .map(|(pick, (reminder, posted))| (pick, record_firing(&reminder, now, posted)))
                    .collect();
                Ok(Some((fired, full)))
            }
            Err(e) => {
                tracing::warn!(
                    error = %format!("{e:#}"),
                    "firing status-update reminders as a set failed; they fire one at a time"
                );
                Ok(None)
            }
        }
    }

    /// The set's transaction: each reminder with whether it posted, whether any did, and
    /// whether the set was full.
    async fn try_set(
        &self,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<(Reminder, bool)>, bool, bool)> {
        let mut tx = self.store.begin().await?;
        let due = store::reminders::due_set(&mut tx, Kind::StatusUpdate, now, SET).await?;
        let full = due.len() == SET;
        let due = store::reminders::claim_set(&mut tx, due).await?;
        if due.is_empty() {
            tx.commit().await?;
            return Ok((Vec::new(), false, full));
        }
        let ids: Vec<i64> = due.iter().map(|r| r.incident_id).collect();
        let incidents: HashMap<i64, Incident> = store::incidents::get_many(&mut tx, &ids)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let ics = store::incidents::ics(&mut tx, &ids).await?;
        let mut entries = Vec::new();
        let mut posts = Vec::new();
        let mut next: BTreeMap<Option<DateTime<Utc>>, Vec<i64>> = BTreeMap::new();
        let mut set = Vec::with_capacity(due.len());
        for reminder in due {
            let incident = incidents.get(&reminder.incident_id);
            let posted = match incident.map_or(Step::End, |i| self.step(i, now)) {
                Step::End => {
                    next.entry(None).or_default().push(reminder.id);
                    false
                }
                Step::Cancel => {
                    store::reminders::cancel_open_phase(&mut tx, reminder.incident_id).await?;
                    false
                }
                Step::Postpone(to) => {
                    store::reminders::postpone(&mut tx, reminder.id, to).await?;
                    false
                }
                Step::Remind(at) => {
                    let incident = incident.ok_or_else(|| anyhow::anyhow!("no incident"))?;
                    let ic = ics
                        .get(&incident.id)
                        .cloned()
                        .unwrap_or_else(|| incident.declared_by.clone());
                    let (message, text) =
                        reminders::status_reminder(&self.config, incident, &ic, now);
                    entries.push((incident.id, text));
                    posts.push((incident, message));
                    next.entry(Some(at)).or_default().push(reminder.id);
                    true
                }
            };
            set.push((reminder, posted));
        }
        let entry_ids =
            store::timeline::append_each(&mut tx, now, &klaxon(), &EntryKind::Reminder, &entries)
                .await?;
        let calls: Vec<_> = posts
            .into_iter()
            .zip(entry_ids)
            .map(|((incident, message), entry)| {
                let op = Op::Post {
                    to: Target::Incident,
                    message,
                    track: None,
                    timeline_entry: Some(entry),
                };
                (&incident.tenant, Some(incident.id), op)
            })
            .collect();
        outbox::enqueue_each(&mut tx, &calls, now).await?;
        for (at, ids) in &next {
            store::reminders::fired_set(&mut tx, ids, now, *at).await?;
        }
        tx.commit().await?;
        Ok((set, !calls.is_empty(), full))
    }

    /// What a status-update reminder of `incident` does now; the same rules as
    /// `Scheduler::fire`.
    fn step(&self, incident: &Incident, now: DateTime<Utc>) -> Step {
        if !incident.is_open() {
            return Step::Cancel;
        }
        if let Some(open) = held(&self.config, incident, now) {
            return Step::Postpone(open);
        }
        match reminders::cadence(&self.config, incident).filter(|_| !incident.reminders_off) {
            Some(every) => Step::Remind(crate::clock::after(now, every.as_std())),
            None => Step::End,
        }
    }
}
