//! The engine: turns an [`Invocation`] into effects on the store and the outbox, and a [`Reply`].
//!
//! One command is one `BEGIN IMMEDIATE` transaction: its state changes, timeline entries, the
//! platform calls it implies and its delivery record commit together, and only then is the
//! reply returned. A refusal ([`UserError`]) rolls everything back.

mod actions;
mod alert;
pub mod archive;
pub mod capture;
mod execute;
pub mod oncall_notices;
pub mod postmortem;
pub mod reminders;
pub mod render;

use std::sync::Arc;

use crate::store::Conn;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use klaxon_commands::{Command, Handler, Input, Invocation, Reply, Rich, UserError};
use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::clock::Clock;
use crate::config::Config;
use crate::store::outbox::{self, Op};
use crate::store::{self, Incident, Store, timeline::EntryKind};

/// How many times a command is run when its transaction keeps running into another replica's
/// (a deadlock, which PostgreSQL breaks by undoing one of them).
const CONFLICT_TRIES: u32 = 3;

/// The incident engine. Cheap to share behind an `Arc`.
pub struct Engine {
    store: Store,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    /// Woken after every commit that queued platform calls.
    outbox_wake: Arc<Notify>,
    /// Woken after every commit, since commands move reminder schedules.
    scheduler_wake: Arc<Notify>,
    services: Arc<Services>,
    /// Sends claimed runbook actions after their command's commit.
    runner: Arc<execute::Runner>,
}

pub use execute::Background;
pub(crate) use execute::Execution;

/// What actions use besides the store: the postmortem renderer, the runbook catalog, secrets
/// for runbook actions, and the resolver whose checked answers their requests connect to.
pub struct Services {
    pub renderer: crate::engine::postmortem::Renderer,
    pub catalog: crate::runbooks::Catalog,
    /// The on-call schedules, loaded at start.
    pub schedules: Arc<crate::oncall::Schedules>,
    pub secrets: Arc<dyn crate::runbooks::request::Secrets>,
    pub resolver: Arc<dyn crate::runbooks::allow::Resolve>,
}

impl Engine {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        outbox_wake: Arc<Notify>,
        scheduler_wake: Arc<Notify>,
        services: Arc<Services>,
        background: Arc<dyn Background>,
    ) -> Self {
        let runner = Arc::new(execute::Runner::new(
            store.clone(),
            Arc::clone(&clock),
            Arc::clone(&services),
            Arc::clone(&outbox_wake),
            background,
        ));
        Self {
            store,
            clock,
            config,
            outbox_wake,
            scheduler_wake,
            services,
            runner,
        }
    }

    /// Waits until every runbook action sent in the background has its outcome recorded.
    pub async fn actions_idle(&self) {
        self.runner.idle().await;
    }

    /// At start-up, before any command: ends every run an earlier process left `running`
    /// as `unknown`, and says so in its incident channel. Such a run is never sent again.
    pub async fn recover_interrupted_actions(&self) -> anyhow::Result<usize> {
        self.runner.recover().await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Handles one invocation (again, up to [`CONFLICT_TRIES`] times in all, when its
    /// transaction was undone by a conflict with another replica's). Never fails: an internal error becomes a reply naming a
    /// correlation id that is also in the logs.
    pub async fn handle(&self, invocation: Invocation) -> Reply {
        let correlation = correlation_id();
        let span = tracing::info_span!(
            "command",
            id = %correlation,
            tenant = %invocation.tenant,
            user = %invocation.user.id,
        );
        let received = std::time::Instant::now();
        let mut tries = 0;
        let done = loop {
            tries += 1;
            match self.try_handle(&invocation).instrument(span.clone()).await {
                // Two replicas' transactions ran into each other and this one was undone:
                // it is run again, from the start.
                Err(e) if tries < CONFLICT_TRIES && store::is_conflict(&e) => {
                    span.in_scope(|| {
                        tracing::warn!(error = %format!("{e:#}"), "command undone by a conflict with another replica; running it again");
                    });
                }
                done => break done,
            }
        };
        let reply = match done {
            Ok(reply) => reply,
            Err(e) => {
                span.in_scope(|| tracing::error!(error = %format!("{e:#}"), "command failed"));
                Reply::internal_error(&correlation)
            }
        };
        let outcome = match reply.kind {
            klaxon_commands::ReplyKind::Ok => "ok",
            klaxon_commands::ReplyKind::UserError => "user_error",
            klaxon_commands::ReplyKind::InternalError => "internal_error",
        };
        crate::metrics::command(
            invocation.tenant.platform.as_str(),
            command_label(&invocation),
            outcome,
            received.elapsed().as_secs_f64(),
        );
        reply
    }

    async fn try_handle(&self, inv: &Invocation) -> anyhow::Result<Reply> {
        /// What is asked: a command, or a declare from an alert (whose title and severity
        /// are read inside the transaction).
        enum Request {
            Command(Command),
            DeclareAlert(i64),
        }
        let request = match &inv.input {
            Input::Text(text) => match klaxon_commands::parse(text, inv.tenant.platform) {
                Ok(command) => Request::Command(command),
                Err(e) => {
                    tracing::info!(error = %e, "refused input");
                    return Ok(Reply::user_error(&e));
                }
            },
            Input::Command(command) => Request::Command(command.clone()),
            Input::DeclareAlert { alert } => Request::DeclareAlert(*alert),
        };
        let mut tx = self.store.begin().await?;
        if let Some(delivery) = &inv.delivery_id
            && let Some(reply) = store::deliveries::get(&mut tx, &inv.tenant, delivery).await?
        {
            tracing::info!(delivery = %delivery, "duplicate delivery; answering as before");
            return Ok(reply);
        }
        let mut ctx = Ctx {
            conn: &mut tx,
            inv,
            now: self.clock.now(),
            config: &self.config,
            services: &self.services,
            queued: false,
            execution: None,
            replay: None,
        };
        let (name, result) = match request {
            Request::Command(command) => (command.name(), actions::run(&mut ctx, command).await),
            Request::DeclareAlert(id) => ("declare", alert::declare_clicked(&mut ctx, id).await),
        };
        match result {
            Ok(reply) => {
                let queued = ctx.queued;
                let execution = ctx.execution.take();
                let replay = ctx.replay.take();
                // A delivery that sends an action is recorded here too, with the claim: a
                // redelivery while the request is in flight gets this same answer.
                if let Some(delivery) = &inv.delivery_id {
                    store::deliveries::put(
                        &mut tx,
                        &inv.tenant,
                        delivery,
                        self.clock.now(),
                        replay.as_ref().unwrap_or(&reply),
                    )
                    .await?;
                }
                tx.commit().await?;
                if let Some(execution) = execution {
                    // The answer goes back now; the outcome follows as a post.
                    self.runner.send_later(inv.user.clone(), execution);
                }
                if queued {
                    self.outbox_wake.notify_one();
                }
                self.scheduler_wake.notify_one();
                tracing::info!(command = name, "done");
                Ok(reply)
            }
            Err(ActionError::User(e)) => {
                tx.rollback().await?;
                tracing::info!(command = name, error = %e, "refused");
                Ok(Reply::user_error(&e))
            }
            Err(ActionError::Internal(e)) => Err(e.context(format!("running /inc {name}"))),
        }
    }
}

#[async_trait]
impl Handler for Engine {
    async fn handle(&self, invocation: Invocation) -> Reply {
        Engine::handle(self, invocation).await
    }

    async fn event(&self, event: klaxon_commands::ChannelEvent) -> Result<(), String> {
        self.channel_event(&event).await.map_err(|e| {
            let e = format!("{e:#}");
            tracing::error!(error = %e, "could not record a platform event");
            e
        })
    }

    async fn mark(&self, event: klaxon_commands::ChannelEvent) -> Reply {
        let incident = async {
            let mut conn = self.store.read().await?;
            crate::store::incidents::by_channel(&mut conn, &event.tenant, &event.channel_id).await
        }
        .await;
        let key = match incident {
            Ok(Some(incident)) => incident.key(),
            Ok(None) => {
                return Reply::user_error(&UserError::new(
                    "This is not an incident channel: only messages in one go on a timeline.",
                ));
            }
            Err(e) => {
                let id = correlation_id();
                tracing::error!(error = %format!("{e:#}"), correlation = %id, "could not look up a channel");
                return Reply::internal_error(&id);
            }
        };
        match self.channel_event(&event).await {
            Ok(()) => Reply::ok_line(Rich::plain(format!("📌 Added to {key}'s timeline."))),
            Err(e) => {
                let id = correlation_id();
                tracing::error!(error = %format!("{e:#}"), correlation = %id, "could not record a marked message");
                Reply::internal_error(&id)
            }
        }
    }
}

/// The subcommand an invocation names, for metrics: `invalid` when it does not parse.
fn command_label(inv: &Invocation) -> &'static str {
    match &inv.input {
        Input::Text(text) => klaxon_commands::parse(text, inv.tenant.platform)
            .map(|c| c.name())
            .unwrap_or("invalid"),
        Input::Command(c) => c.name(),
        Input::DeclareAlert { .. } => "declare",
    }
}

/// A short id tying an "internal error" reply to its log lines.
fn correlation_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// Why an action did not complete.
pub(crate) enum ActionError {
    /// The user's request cannot be done as asked; nothing changes.
    User(UserError),
    Internal(anyhow::Error),
}

impl From<UserError> for ActionError {
    fn from(e: UserError) -> Self {
        Self::User(e)
    }
}

impl From<anyhow::Error> for ActionError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<sqlx::Error> for ActionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.into())
    }
}

pub(crate) type ActionResult = Result<Reply, ActionError>;

/// What an action works with: the open transaction, the request, the time and the config.
pub(crate) struct Ctx<'a> {
    pub conn: &'a mut Conn,
    pub inv: &'a Invocation,
    pub now: DateTime<Utc>,
    pub config: &'a Config,
    pub services: &'a Services,
    /// A runbook action claimed in this transaction, to send after the commit.
    pub execution: Option<Execution>,
    /// What a redelivery of this request is answered with instead of the reply, when the reply
    /// holds something that must not be stored (a sign-in link).
    pub replay: Option<Reply>,
    /// Whether platform calls were queued (the dispatcher is woken after commit).
    queued: bool,
}

impl Ctx<'_> {
    /// The incident whose channel the command was typed in; `name` is the command's.
    pub async fn incident_here(&mut self, name: &str) -> Result<Incident, ActionError> {
        let found = match (self.inv.incident, &self.inv.channel.id) {
            // A button names its incident: it may be clicked in the paging channel.
            (Some(number), _) => {
                store::incidents::by_number(self.conn, &self.inv.tenant, number).await?
            }
            (None, Some(id)) => {
                store::incidents::by_channel(self.conn, &self.inv.tenant, id).await?
            }
            (None, None) => None,
        };
        // Name the command as typed (`lead`, not the `role` it stands for).
        let typed = match &self.inv.input {
            klaxon_commands::Input::Text(t) => t
                .trim()
                .trim_start_matches("/inc")
                .split_whitespace()
                .next()
                .map(str::to_ascii_lowercase),
            klaxon_commands::Input::Command(_) | klaxon_commands::Input::DeclareAlert { .. } => {
                None
            }
        };
        let name = typed.unwrap_or_else(|| name.to_owned());
        found.ok_or_else(|| {
            ActionError::User(UserError::new(format!(
                "`/inc {name}` works in an incident's channel. `/inc list` shows open incidents; `/inc declare` opens one."
            )))
        })
    }

    /// Adds a timeline entry by the invoking user.
    pub async fn record(
        &mut self,
        incident: &Incident,
        kind: EntryKind,
        text: &str,
    ) -> anyhow::Result<i64> {
        store::timeline::append(
            self.conn,
            incident.id,
            self.now,
            &self.inv.user,
            &kind,
            text,
        )
        .await
    }

    /// Notes that platform calls were queued by other means than [`Ctx::enqueue`].
    pub fn mark_queued(&mut self) {
        self.queued = true;
    }

    /// Queues a platform call for the incident.
    pub async fn enqueue(&mut self, incident: &Incident, op: &Op) -> anyhow::Result<()> {
        self.queued = true;
        outbox::enqueue(self.conn, &incident.tenant, Some(incident.id), op, self.now).await
    }

    /// Queues the incident's platform calls, in order, in a statement per
    /// [`MOST`](crate::store::batch::MOST) values.
    pub async fn enqueue_each(&mut self, incident: &Incident, ops: Vec<Op>) -> anyhow::Result<()> {
        self.queued = true;
        let calls: Vec<_> = ops
            .into_iter()
            .map(|op| (&incident.tenant, Some(incident.id), op))
            .collect();
        outbox::enqueue_each(self.conn, &calls, self.now).await
    }

    /// Posts in the incident channel a line that shows a timeline entry.
    pub async fn post_entry(
        &mut self,
        incident: &Incident,
        entry: i64,
        message: klaxon_commands::Message,
    ) -> anyhow::Result<()> {
        self.enqueue(
            incident,
            &Op::Post {
                to: outbox::Target::Incident,
                message,
                track: None,
                timeline_entry: Some(entry),
            },
        )
        .await
    }

    /// What the incident's views show now, to compare after a change.
    pub async fn snapshot(&mut self, incident: &Incident) -> anyhow::Result<Views> {
        let roles = store::incidents::roles(self.conn, incident.id).await?;
        Ok(Views::of(incident, &roles))
    }

    /// Re-reads the incident and queues edits of whatever shows its state and changed since
    /// `before`: the announcement, the pinned summary, the channel topic. Pending edits of the
    /// same things are replaced, so a burst of changes is one edit each.
    pub async fn refresh_views(
        &mut self,
        incident_id: i64,
        before: &Views,
    ) -> anyhow::Result<Incident> {
        let incident = store::incidents::get(self.conn, incident_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("incident {incident_id} vanished"))?;
        let now = self.snapshot(&incident).await?;
        if now.announcement != before.announcement {
            let op = Op::Edit {
                kind: store::posts::PostKind::Announcement,
                message: now.announcement,
            };
            self.enqueue(&incident, &op).await?;
        }
        if now.summary != before.summary {
            let op = Op::Edit {
                kind: store::posts::PostKind::Summary,
                message: now.summary,
            };
            self.enqueue(&incident, &op).await?;
        }
        if now.topic != before.topic {
            self.enqueue(&incident, &Op::SetTopic { topic: now.topic })
                .await?;
        }
        Ok(incident)
    }
}

/// The rendered views of an incident's state.
pub(crate) struct Views {
    announcement: klaxon_commands::Message,
    summary: klaxon_commands::Message,
    topic: klaxon_commands::Rich,
}

impl Views {
    fn of(
        incident: &Incident,
        roles: &[(klaxon_commands::Role, klaxon_commands::UserRef)],
    ) -> Self {
        let view = render::View { incident, roles };
        Self {
            announcement: view.announcement(),
            summary: view.summary_post(),
            topic: view.topic(),
        }
    }
}
