//! The scheduler: fires due reminders, and the on-call notices (handoff posts, shift reminders)
//! it plans from the rotas. Status-update reminders, which fall due together for every open
//! incident, fire in sets (see [`set`]); the other kinds one transaction each, in due order
//! (several waiting for the writer at once, so that they share a COMMIT).
//!
//! Schedules live in the `reminders` table; this task only knows "what is due next". It sleeps
//! until then or until a command changes a schedule (no polling). Firing a reminder re-checks
//! the incident at fire time, queues its post in the outbox and moves the schedule on, in one
//! transaction: a crash before the commit fires it again after restart, a crash after it finds
//! it already moved on. Replicas sharing a PostgreSQL database each run a scheduler: a due row
//! is locked by the transaction firing it (others pass it over) and claimed at its due time, so
//! it fires once whichever replica gets it. After downtime an overdue reminder fires once,
//! then resumes its cadence from the time it fired.

mod set;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use klaxon_commands::{Message, Rich};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::engine::reminders::{self, klaxon};
use crate::store::outbox::{self, Op, Target};
use crate::store::reminders::{Kind, Reminder};
use crate::store::timeline::EntryKind;
use crate::store::{self, Store};

/// One reminder that fired (or was skipped), for tests and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub incident_id: i64,
    pub kind: Kind,
    pub item: i64,
    pub due_at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    /// `false` when the reminder was due but had nothing to say (incident resolved, item done,
    /// quiet hours): nothing was posted.
    pub posted: bool,
}

/// Most reminder firings that wait for the writer at once (see [`Scheduler::fire_due`]).
const FIRING_AT_ONCE: usize = 16;

pub struct Scheduler {
    store: Store,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    /// The on-call schedules, for escalation tiers that name a layer.
    schedules: Arc<crate::oncall::Schedules>,
    /// Woken by the engine after a command changed schedules.
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    retention: crate::retention::Retention,
}

impl Scheduler {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        schedules: Arc<crate::oncall::Schedules>,
        wake: Arc<Notify>,
        outbox_wake: Arc<Notify>,
    ) -> Self {
        let retention = crate::retention::Retention::new(
            store.clone(),
            Arc::clone(&clock),
            config.retention.clone(),
        );
        Self {
            store,
            clock,
            config,
            schedules,
            wake,
            outbox_wake,
            retention,
        }
    }

    /// Deletes finished platform calls and old deliveries, when an hour has passed since the
    /// last time (see [`crate::retention`]).
    pub async fn prune_if_due(&self) -> anyhow::Result<Option<crate::retention::Pruned>> {
        self.retention.run_if_due().await
    }

    /// When the next reminder is due.
    pub async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let mut conn = self.store.read().await?;
        let reminder = store::reminders::next_due(&mut conn).await?;
        let notice = if !self.config.oncall.handoffs.enabled() {
            None
        } else {
            store::oncall::next_notice_due(&mut conn).await?
        };
        Ok(reminder.into_iter().chain(notice).min())
    }

    /// Plans the on-call notices ahead, then fires each one due, one transaction each (see
    /// [`crate::engine::oncall_notices`]). One whose firing fails is logged and skipped, so it
    /// cannot hold back the rest. Returns how many posted.
    pub async fn fire_notices(&self) -> anyhow::Result<usize> {
        // Without targets nothing is planned, so there is nothing to fire.
        if !self.config.oncall.handoffs.enabled() {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        crate::engine::oncall_notices::plan(&mut tx, &self.config, &self.schedules, now).await?;
        tx.commit().await?;
        let mut posted = 0;
        loop {
            let mut tx = self.store.begin().await?;
            let Some(notice) = store::oncall::first_due_notice(&mut tx, now).await? else {
                tx.commit().await?;
                break;
            };
            if !store::oncall::claim_notice(&mut tx, notice.id).await? {
                // Another replica fired it since it was read: roll back, move on.
                drop(tx);
                continue;
            }
            let outcome = async {
                let sent = crate::engine::oncall_notices::fire(
                    &mut tx,
                    &self.config,
                    &self.schedules,
                    &notice,
                    now,
                )
                .await?;
                tx.commit().await?;
                anyhow::Ok(sent)
            }
            .await;
            match outcome {
                Ok(true) => {
                    posted += 1;
                    self.outbox_wake.notify_one();
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(
                        notice = notice.id,
                        schedule = notice.schedule,
                        layer = notice.layer,
                        kind = notice.kind,
                        error = %format!("{e:#}"),
                        "an on-call notice could not be posted; it is skipped"
                    );
                    let mut tx = self.store.begin().await?;
                    store::oncall::notice_fired(&mut tx, notice.id, false, now).await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(posted)
    }

    /// Fires every reminder due now. The kinds other than status updates go first (an
    /// escalation pages people), earliest first, one transaction each: when more than one is
    /// due, up to [`FIRING_AT_ONCE`] firings wait for the writer together, and the writer runs
    /// their transactions one after the other (each picks the earliest reminder still due, so
    /// they fire in due order) and commits them together, one COMMIT for many. Then the status
    /// updates, in sets of up to [`set::SET`], earliest first, one transaction per set. A
    /// reminder whose firing fails is rolled back, logged and put off with backoff (its due
    /// time kept, so it still fires once, when it can); the others fire meanwhile. When a
    /// set's transaction fails, its reminders fire one transaction each, so that only the one
    /// that fails is put off.
    pub async fn fire_due(&self) -> anyhow::Result<Vec<Fired>> {
        let picks = AtomicU64::new(0);
        let mut fired = self.fire_each(&picks, Some(Kind::StatusUpdate)).await?;
        loop {
            match self.fire_set(&picks).await? {
                Some((more, full)) => {
                    fired.extend(more);
                    if !full {
                        break;
                    }
                }
                None => {
                    fired.extend(self.fire_each(&picks, None).await?);
                    break;
                }
            }
        }
        fired.sort_by_key(|(pick, _)| *pick);
        self.fire_notices().await?;
        Ok(fired.into_iter().map(|(_, f)| f).collect())
    }

    /// Fires every reminder due now (but those of kind `except`), one transaction each, up to
    /// [`FIRING_AT_ONCE`] waiting for the writer together.
    async fn fire_each(
        &self,
        picks: &AtomicU64,
        except: Option<Kind>,
    ) -> anyhow::Result<Vec<(u64, Fired)>> {
        let mut fired = Vec::new();
        if let Some(first) = self.fire_next(picks, except).await? {
            fired.extend(first);
            let together = (0..FIRING_AT_ONCE).map(|_| self.fire_all(picks, except));
            for more in futures_util::future::try_join_all(together).await? {
                fired.extend(more);
            }
        }
        Ok(fired)
    }

    /// [`Self::fire_next`] until nothing is due.
    async fn fire_all(
        &self,
        picks: &AtomicU64,
        except: Option<Kind>,
    ) -> anyhow::Result<Vec<(u64, Fired)>> {
        let mut fired = Vec::new();
        while let Some(one) = self.fire_next(picks, except).await? {
            fired.extend(one);
        }
        Ok(fired)
    }

    /// Fires the earliest reminder due now (not of kind `except`), in a transaction of its
    /// own: `None` when nothing is due, `Some(None)` when the one read was lost to another
    /// replica or its firing failed (put off), else what fired, numbered in the order firings
    /// picked their reminder.
    async fn fire_next(
        &self,
        picks: &AtomicU64,
        except: Option<Kind>,
    ) -> anyhow::Result<Option<Option<(u64, Fired)>>> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let Some(reminder) = store::reminders::first_due(&mut tx, now, except).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        if !store::reminders::claim(&mut tx, &reminder).await? {
            // Another replica fired or moved it since it was read: roll back, move on.
            drop(tx);
            return Ok(Some(None));
        }
        let pick = picks.fetch_add(1, Ordering::Relaxed);
        let outcome = async {
            let posted = self.fire(&mut tx, &reminder, now).await?;
            tx.commit().await?;
            anyhow::Ok(posted)
        }
        .await;
        let posted = match outcome {
            Ok(posted) => posted,
            Err(e) => {
                self.back_off(&reminder, now, &e).await?;
                return Ok(Some(None));
            }
        };
        if posted {
            self.outbox_wake.notify_one();
        }
        Ok(Some(Some((pick, record_firing(&reminder, now, posted)))))
    }

    /// Records a failed firing (in a transaction of its own, since the firing's was rolled
    /// back): the reminder is tried again after 1 s, 2 s, 4 s … at most five minutes.
    async fn back_off(
        &self,
        reminder: &Reminder,
        now: DateTime<Utc>,
        error: &anyhow::Error,
    ) -> anyhow::Result<()> {
        let mut tx = self.store.begin().await?;
        let before = store::reminders::failures(&mut tx, reminder.id).await?;
        let wait = reminder_backoff(before);
        let error = format!("{error:#}");
        let failures =
            store::reminders::failed(&mut tx, reminder.id, &error, crate::clock::after(now, wait))
                .await?;
        tx.commit().await?;
        crate::metrics::reminder_failed(reminder.kind.as_str());
        tracing::error!(
            reminder = reminder.id,
            kind = reminder.kind.as_str(),
            incident = reminder.incident_id,
            failures,
            retry_in = ?wait,
            %error,
            "firing a reminder failed; it is tried again later"
        );
        Ok(())
    }

    /// Runs on the real clock until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut errors = 0u32;
        loop {
            // Only the database failing gets here (one reminder's failure is put off by
            // `fire_due`): wait longer each time rather than spin.
            if let Err(e) = self.prune_if_due().await {
                tracing::error!(error = %format!("{e:#}"), "retention failed; it runs again later");
            }
            let pause = match self.fire_due().await {
                Ok(_) => {
                    errors = 0;
                    Duration::ZERO
                }
                Err(e) => {
                    errors = errors.saturating_add(1);
                    tracing::error!(error = %format!("{e:#}"), "firing reminders failed");
                    reminder_backoff(i64::from(errors))
                }
            };
            let sleep = match self.next_due().await {
                Ok(Some(at)) => (at - self.clock.now()).to_std().unwrap_or(Duration::ZERO),
                Ok(None) => Duration::from_secs(3600),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "reading reminders failed");
                    Duration::from_secs(5)
                }
            }
            .min(
                (self.retention.next_run() - self.clock.now())
                    .to_std()
                    .unwrap_or(Duration::from_secs(60)),
            )
            .max(pause);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Decides and records one firing inside `tx`. Returns whether anything was posted.
    async fn fire(
        &self,
        tx: &mut crate::store::Conn,
        reminder: &Reminder,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let config = &self.config;
        let Some(incident) = store::incidents::get(tx, reminder.incident_id).await? else {
            store::reminders::fired(tx, reminder.id, now, None).await?;
            return Ok(false);
        };
        if reminder.kind.ends_with_incident() && !incident.is_open() {
            store::reminders::cancel_open_phase(tx, incident.id).await?;
            return Ok(false);
        }
        if reminder.kind == Kind::Archive {
            return crate::engine::archive::fire(tx, &incident, reminder.id, now).await;
        }
        if let Some(open) = held(config, &incident, now) {
            store::reminders::postpone(tx, reminder.id, open).await?;
            return Ok(false);
        }
        match reminder.kind {
            Kind::StatusUpdate => {
                let Some(every) =
                    reminders::cadence(config, &incident).filter(|_| !incident.reminders_off)
                else {
                    store::reminders::fired(tx, reminder.id, now, None).await?;
                    return Ok(false);
                };
                let ic = reminders::owner(tx, &incident).await?;
                let (message, text) = reminders::status_reminder(config, &incident, &ic, now);
                let entry = store::timeline::append(
                    tx,
                    incident.id,
                    now,
                    &klaxon(),
                    &EntryKind::Reminder,
                    &text,
                )
                .await?;
                post(tx, &incident, Target::Incident, message, entry, now).await?;
                let next = crate::clock::after(now, every.as_std());
                store::reminders::fired(tx, reminder.id, now, Some(next)).await?;
                Ok(true)
            }
            Kind::Ack => {
                if incident.acknowledged.is_some() {
                    store::reminders::fired(tx, reminder.id, now, None).await?;
                    return Ok(false);
                }
                let after = crate::engine::render::age(incident.declared_at, now);
                let why = Rich::plain(format!("is not acknowledged {after} after declare"));
                reminders::escalate(tx, config, &self.schedules, &incident, &klaxon(), why, now)
                    .await?;
                let next = reminders::ack_due(config, &incident, Some(now), now);
                store::reminders::fired(tx, reminder.id, now, next).await?;
                Ok(true)
            }
            Kind::Checklist => {
                let items = store::checklist::all(tx, incident.id).await?;
                let open = items
                    .iter()
                    .find(|i| i.item == reminder.item && i.done.is_none());
                store::reminders::fired(tx, reminder.id, now, None).await?;
                let Some(item) = open else {
                    return Ok(false);
                };
                if incident.reminders_off {
                    return Ok(false);
                }
                let message = Message::new().line(Rich::plain(format!(
                    "⏰ Checklist item {} is due: {}. Tick it with /inc check {}.",
                    item.item, item.text, item.item
                )));
                let text = format!("Nudged item {}: {}", item.item, item.text);
                let entry = store::timeline::append(
                    tx,
                    incident.id,
                    now,
                    &klaxon(),
                    &EntryKind::Nudge,
                    &text,
                )
                .await?;
                post(tx, &incident, Target::Incident, message, entry, now).await?;
                Ok(true)
            }
            Kind::Followup => {
                let followups = store::postmortems::followups(tx, incident.id).await?;
                let Some(f) = followups
                    .iter()
                    .find(|f| f.item == reminder.item && f.done.is_none())
                else {
                    store::reminders::fired(tx, reminder.id, now, None).await?;
                    return Ok(false);
                };
                let to = match &f.owner {
                    Some(owner) => owner.clone(),
                    None => reminders::owner(tx, &incident).await?,
                };
                let due = f
                    .due
                    .map_or_else(String::new, |d| format!(" (due {})", d.format("%Y-%m-%d")));
                let message = Message::new().line(
                    Rich::plain("📌 ")
                        .ping(&to)
                        .text(format!(
                            ": follow-up {} of {} is overdue{due}: ",
                            f.item,
                            incident.key()
                        ))
                        .user_text(&f.text)
                        .text(format!(". /inc followup done {} when it is.", f.item)),
                );
                let text = format!("Reminded @{} of overdue follow-up {}", to.label(), f.item);
                let entry = store::timeline::append(
                    tx,
                    incident.id,
                    now,
                    &klaxon(),
                    &EntryKind::Reminder,
                    &text,
                )
                .await?;
                post(tx, &incident, Target::Incident, message, entry, now).await?;
                store::reminders::fired(
                    tx,
                    reminder.id,
                    now,
                    Some(now + chrono::Duration::days(7)),
                )
                .await?;
                Ok(true)
            }
            Kind::Archive => Ok(false),
            Kind::Postmortem => {
                let (due, done) = store::postmortems::due_and_done(tx, incident.id).await?;
                let (Some(due), None, false) = (due, done, incident.is_open()) else {
                    store::reminders::fired(tx, reminder.id, now, None).await?;
                    return Ok(false);
                };
                let to = reminders::owner(tx, &incident).await?;
                let when = crate::clock::long(due);
                let (what, next) = if reminder.item == 0 {
                    (format!("is due by {when}"), None)
                } else {
                    let next = config.business_hours.add_business_days(now, 1);
                    (format!("is overdue (it was due by {when})"), Some(next))
                };
                let message = Message::new().line(Rich::plain("📝 ").ping(&to).text(format!(
                    ": the postmortem of {} {what}. /inc postmortem drafts it from the record; /inc postmortem done when it is written.",
                    incident.key()
                )));
                let text = format!("Reminded @{}: postmortem {what}", to.label());
                let entry = store::timeline::append(
                    tx,
                    incident.id,
                    now,
                    &klaxon(),
                    &EntryKind::Reminder,
                    &text,
                )
                .await?;
                post(tx, &incident, Target::Incident, message, entry, now).await?;
                store::reminders::fired(tx, reminder.id, now, next).await?;
                Ok(true)
            }
        }
    }
}

/// When quiet hours hold the incident's reminders (its severity reminds in business hours
/// only, and they are closed): the time they open.
fn held(config: &Config, incident: &store::Incident, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let quiet = config
        .reminders
        .business_hours_only
        .contains(&incident.severity)
        && !config.business_hours.is_open(now);
    quiet.then(|| config.business_hours.next_open(now))
}

/// Records what fired (metrics, a debug line) and says so, for [`Scheduler::fire_due`].
fn record_firing(reminder: &Reminder, now: DateTime<Utc>, posted: bool) -> Fired {
    let lateness = (now - reminder.due_at).num_milliseconds();
    crate::metrics::reminder(reminder.kind.as_str(), posted, lateness as f64 / 1000.0);
    tracing::debug!(
        kind = reminder.kind.as_str(),
        incident = reminder.incident_id,
        lateness_ms = lateness,
        posted,
        "reminder due"
    );
    Fired {
        incident_id: reminder.incident_id,
        kind: reminder.kind,
        item: reminder.item,
        due_at: reminder.due_at,
        fired_at: now,
        posted,
    }
}

/// 1 s, 2 s, 4 s … capped at five minutes, by how many times in a row it failed before.
fn reminder_backoff(failures: i64) -> Duration {
    let exp = u32::try_from(failures.clamp(0, 16)).unwrap_or(16);
    Duration::from_secs(1u64 << exp).min(Duration::from_secs(300))
}

async fn post(
    tx: &mut crate::store::Conn,
    incident: &store::Incident,
    to: Target,
    message: klaxon_commands::Message,
    entry: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    outbox::enqueue(
        tx,
        &incident.tenant,
        Some(incident.id),
        &Op::Post {
            to,
            message,
            track: None,
            timeline_entry: Some(entry),
        },
        now,
    )
    .await
}
