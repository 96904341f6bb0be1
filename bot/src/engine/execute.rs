//! Sending a claimed runbook action after its command has been answered, recording how it
//! went, and, at start-up, ending the runs an earlier process left half-done.
//!
//! A run is claimed (`action_runs.state = running`) in the command's own transaction, together
//! with the delivery record, so the command is answered before the request is made and a
//! redelivery gets the same answer. The request then goes out in a background task with no
//! lock held; its outcome, audit entry and channel post commit in a second transaction. A run
//! still `running` at start-up was cut off by a stop: it ends `unknown`, the channel is told,
//! and it is never sent again by itself.
//!
//! The engine starts no task itself: the runtime hands it a [`Background`] that does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use klaxon_commands::{Message, Rich, UserRef};
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::store::outbox::{self, Op};
use crate::store::{self, Incident, Store, timeline::EntryKind};

use super::Services;

/// A runbook action claimed for sending (its run row is `running`).
pub(crate) struct Execution {
    pub run_id: i64,
    pub incident: Incident,
    pub action: String,
    pub params_text: String,
    pub prepared: crate::runbooks::request::Prepared,
}

/// Where work that outlives a command runs: a task the runtime starts and watches
/// (`supervise::Tasks` in the bot).
pub trait Background: Send + Sync {
    /// Runs `task`, named `name` in the logs, to its end in the background.
    fn run(&self, name: &'static str, task: Pin<Box<dyn Future<Output = ()> + Send>>);
}

/// Sends claimed actions in background tasks and counts those in flight.
pub(super) struct Runner {
    store: Store,
    clock: Arc<dyn Clock>,
    services: Arc<Services>,
    outbox_wake: Arc<Notify>,
    background: Arc<dyn Background>,
    in_flight: watch::Sender<usize>,
}

/// Counts a task in flight until it ends, however it ends.
struct InFlight(watch::Sender<usize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Runner {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        services: Arc<Services>,
        outbox_wake: Arc<Notify>,
        background: Arc<dyn Background>,
    ) -> Self {
        Self {
            store,
            clock,
            services,
            outbox_wake,
            background,
            in_flight: watch::Sender::new(0),
        }
    }

    /// Sends `e` in the background; `by` is who ran or confirmed it.
    pub fn send_later(self: &Arc<Self>, by: UserRef, e: Execution) {
        self.in_flight.send_modify(|n| *n += 1);
        let guard = InFlight(self.in_flight.clone());
        let me = Arc::clone(self);
        let task = async move {
            let _guard = guard;
            let action = e.action.clone();
            if let Err(err) = me.send_and_record(&by, e).await {
                // The run stays `running`; the next start-up ends it `unknown`.
                tracing::error!(action = %action, error = %format!("{err:#}"), "could not record a runbook action's outcome");
            }
        };
        self.background.run("runbook action", Box::pin(task));
    }

    /// Returns once no action is in flight.
    pub async fn idle(&self) {
        let mut rx = self.in_flight.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    async fn send_and_record(&self, by: &UserRef, e: Execution) -> anyhow::Result<()> {
        use crate::runbooks::request::{Outcome, execute};
        let outcome = execute(self.services.resolver.as_ref(), &e.prepared).await;
        let now = self.clock.now();
        let (status, request_id, millis) = match &outcome {
            Outcome::Answered {
                status,
                request_id,
                millis,
            } => (Some(*status), request_id.clone(), Some(*millis)),
            Outcome::NoAnswer { millis, .. } => (None, None, Some(*millis)),
            Outcome::PreconditionFailed { .. } | Outcome::Refused { .. } => (None, None, None),
        };
        let summary = match &outcome {
            Outcome::Answered {
                status,
                request_id,
                millis,
            } => {
                let rid = request_id
                    .as_ref()
                    .map_or_else(String::new, |r| format!(", request id {r}"));
                format!("answered {status} in {millis} ms{rid}")
            }
            Outcome::NoAnswer { error, millis } => {
                format!("got no answer ({error} after {millis} ms)")
            }
            Outcome::PreconditionFailed { name, detail } => {
                format!("was not sent: precondition \"{name}\" failed ({detail})")
            }
            Outcome::Refused { why } => format!("was not sent: {why}"),
        };
        let ok = outcome.succeeded();
        let mut tx = self.store.begin().await?;
        store::runbooks::finish(
            &mut tx,
            e.run_id,
            ok,
            status,
            request_id.as_deref(),
            millis,
            &summary,
            now,
        )
        .await?;
        let text = format!("Ran {}{}: {summary}", e.action, e.params_text);
        let entry =
            store::timeline::append(&mut tx, e.incident.id, now, by, &EntryKind::Action, &text)
                .await?;
        let mark = if ok { "⚡" } else { "⚠️" };
        let message = Message::new().line(
            Rich::plain(format!("{mark} "))
                .person(by)
                .text(format!(" ran {}", e.action))
                .user_text(e.params_text.clone())
                .text(format!(": {summary}.")),
        );
        post(&mut tx, &e.incident, entry, message, now).await?;
        tx.commit().await?;
        self.outbox_wake.notify_one();
        tracing::info!(action = %e.action, ok, "runbook action finished");
        Ok(())
    }

    /// Ends every run left `running` as `unknown`, with a timeline entry and a post each.
    pub async fn recover(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let runs = store::runbooks::interrupted(&mut tx).await?;
        for run in &runs {
            let Some(incident) = store::incidents::get(&mut tx, run.incident_id).await? else {
                continue;
            };
            let params = super::actions::params_text(&run.params);
            store::runbooks::mark_unknown(
                &mut tx,
                run.id,
                "outcome unknown: Klaxon stopped while sending it",
                now,
            )
            .await?;
            let text = format!(
                "Outcome unknown for {}{params}: Klaxon stopped while sending it; not sent again",
                run.action
            );
            let entry = store::timeline::append(
                &mut tx,
                incident.id,
                now,
                &run.requested_by,
                &EntryKind::Action,
                &text,
            )
            .await?;
            let message = Message::new().line(
                Rich::plain(format!("⚠️ Klaxon stopped while sending {}", run.action))
                    .user_text(params)
                    .text(" (run by ")
                    .person(&run.requested_by)
                    .text(
                        "): it may or may not have reached its target, and it was not sent \
                         again. Check the target before running it again.",
                    ),
            );
            post(&mut tx, &incident, entry, message, now).await?;
            tracing::warn!(action = %run.action, run = run.id, "runbook action cut off by a stop: outcome unknown");
        }
        tx.commit().await?;
        if !runs.is_empty() {
            self.outbox_wake.notify_one();
        }
        Ok(runs.len())
    }
}

/// Queues a post in the incident channel showing a timeline entry.
async fn post(
    conn: &mut crate::store::Conn,
    incident: &Incident,
    entry: i64,
    message: Message,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    outbox::enqueue(
        conn,
        &incident.tenant,
        Some(incident.id),
        &Op::Post {
            to: outbox::Target::Incident,
            message,
            track: None,
            timeline_entry: Some(entry),
        },
        now,
    )
    .await
}
