//! The outbox: platform calls written with the command that caused them, made afterwards.
//!
//! A command commits its effects and the calls they imply in one transaction, then replies.
//! This dispatcher makes the calls through the adapters' [`ChatApi`], in id order per incident
//! (so a channel exists before anything is posted in it; different incidents concurrently, and
//! posts to a shared channel one at a time, in order), retrying transient failures with
//! backoff or the platform's `Retry-After`. A crash after the reply loses nothing: pending calls
//! are still in the table when the bot starts again. A crash between a platform accepting a call
//! and the call being marked done can repeat that one call; nothing else is ever repeated.
//!
//! A platform that refuses Klaxon's token or app (`ApiError::Auth`) pauses: its calls stay
//! queued, untouched, `/readyz` and a metric say so, and one call is tried again every
//! [`AUTH_RECHECK`] (or all of them at the next start, with a new token).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use klaxon_commands::naming;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Message, NewChannel, PlatformKind, Rich, Span, Tenant, Upload,
    UserRef,
};
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::store::posts::PostKind;
use crate::store::{self, Incident, Store};

/// How many incidents' calls are in flight at once.
const CONCURRENT_CALLS: usize = 8;

/// Whether a stored call posts to a fixed, shared channel (rather than an incident's own).
fn posts_to_shared_channel(op: Option<&Op>) -> bool {
    matches!(
        op,
        Some(Op::Post {
            to: Target::Channel(_),
            ..
        })
    )
}

/// The ordering lane of a call within its incident. Topic edits have their own lane: Discord
/// allows two per 10 minutes per channel, so a postponed topic edit must not hold back the
/// incident's posts (the pinned summary and the announcement show the same state and are
/// not limited that way), and only the newest topic is ever sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Lane {
    Calls,
    Topic,
}

/// How many suffixes to try before giving up on a channel name.
const MAX_NAME_TRIES: u32 = 50;

/// Longest wait between two tries of a failing call.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How often a paused platform's token is tried again, with one of its queued calls.
pub const AUTH_RECHECK: Duration = Duration::from_secs(60);

/// A platform whose token or app was refused.
#[derive(Debug, Clone)]
struct Pause {
    /// What to fix, from the adapter.
    reason: String,
    /// When one queued call is tried again.
    recheck_at: DateTime<Utc>,
}

/// Longest wait a platform may ask for (`Retry-After`): a longer one (a bug, a proxy, a
/// hostile answer) is cut to this, so a call is never put off for good.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Longest a single call may take, waits inside the platform's SDK included (serenity's rate
/// limiter sleeps out a 429 inside the call): past it the call counts as a transient failure.
const CALL_TIMEOUT: Duration = Duration::from_secs(16 * 60);

/// One platform call, as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Create the incident's channel under its planned name.
    CreateChannel {
        private: bool,
        topic: Rich,
        invite: Vec<UserRef>,
    },
    /// Add people to the incident channel.
    Invite { users: Vec<UserRef> },
    /// Set the incident channel's topic.
    SetTopic { topic: Rich },
    /// Post a message; a tracked post is remembered so later changes edit it.
    Post {
        to: Target,
        message: Message,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        track: Option<PostKind>,
        /// The timeline entry this post shows, which gets the message's reference.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeline_entry: Option<i64>,
    },
    /// Pin a tracked post.
    Pin { kind: PostKind },
    /// Replace the content of a tracked post.
    Edit { kind: PostKind, message: Message },
    /// Share a stored postmortem draft in the incident channel, as a file.
    UploadPostmortem { version: i64, comment: Message },
    /// Announce an alert in a paging channel; the alert row remembers the message.
    PostAlert {
        alert: i64,
        channel: ChannelRef,
        message: Message,
    },
    /// Replace an alert's announcement (fired again, resolved, declared).
    EditAlert { alert: i64, message: Message },
    /// Archive the resolved incident's channel (skipped if it was reopened meanwhile).
    Archive,
    /// Bring a reopened incident's archived channel back (skipped if it was not archived).
    Unarchive,
}

impl Op {
    /// Calls with the same key replace each other while pending: only the newest edit of a
    /// post or topic is made, so a burst of changes is one edit.
    pub fn coalesce_key(&self) -> Option<&'static str> {
        match self {
            Self::SetTopic { .. } => Some("topic"),
            Self::Edit {
                kind: PostKind::Announcement,
                ..
            } => Some("edit:announcement"),
            Self::Edit {
                kind: PostKind::Summary,
                ..
            } => Some("edit:summary"),
            _ => None,
        }
    }
}

/// Where a post goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The incident's own channel.
    Incident,
    /// A fixed channel, such as the paging channel.
    Channel(ChannelRef),
}

/// Writes a call in the caller's transaction.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    tenant: &Tenant,
    incident_id: Option<i64>,
    op: &Op,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let json = serde_json::to_string(op)?;
    // A newer topic replaces an older one even after that one was tried and postponed by a
    // rate limit, and keeps its wait: only the latest topic is sent, when the limit allows.
    let tried_too = matches!(op, Op::SetTopic { .. });
    store::outbox::enqueue(
        conn,
        tenant,
        incident_id,
        op.coalesce_key(),
        tried_too,
        &json,
        at,
    )
    .await?;
    Ok(())
}

/// Makes pending calls through the configured platforms.
pub struct Dispatcher {
    store: Store,
    apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>>,
    wake: Arc<Notify>,
    /// One drain at a time, so no call is made twice concurrently.
    running: Mutex<()>,
    /// Announcement edits on this platform wait this long after the change that queued them,
    /// by the engine's clock, so that a burst of changes is one edit.
    debounce: Option<Debounce>,
    /// Platforms paused because their token or app was refused.
    paused: std::sync::Mutex<BTreeMap<PlatformKind, Pause>>,
    /// The clock a paused platform's recheck is timed on: the engine's (a manual one in tests).
    clock: Arc<dyn crate::clock::Clock>,
}

struct Debounce {
    clock: Arc<dyn crate::clock::Clock>,
    /// The window per platform; a platform not listed edits at once.
    windows: BTreeMap<PlatformKind, chrono::Duration>,
}

/// What went wrong with one call.
enum Failure {
    Api(ApiError),
    /// The call cannot be made because of Klaxon's own state (e.g. its channel never existed).
    Impossible(String),
    Internal(anyhow::Error),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl Dispatcher {
    pub fn new(
        store: Store,
        apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            apis,
            wake,
            running: Mutex::new(()),
            debounce: None,
            paused: std::sync::Mutex::default(),
            clock: Arc::new(crate::clock::SystemClock),
        }
    }

    /// Times a paused platform's recheck on `clock` (the engine's) instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The platforms whose calls are paused, with what to fix.
    pub fn paused(&self) -> Vec<(PlatformKind, String)> {
        self.pauses()
            .iter()
            .map(|(p, pause)| (*p, pause.reason.clone()))
            .collect()
    }

    fn pauses(&self) -> std::sync::MutexGuard<'_, BTreeMap<PlatformKind, Pause>> {
        self.paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a refused token: the platform pauses until `AUTH_RECHECK` from now.
    fn pause(&self, platform: PlatformKind, reason: &str) -> DateTime<Utc> {
        let recheck_at = crate::clock::after(self.clock.now(), AUTH_RECHECK);
        let was = self.pauses().insert(
            platform,
            Pause {
                reason: reason.to_owned(),
                recheck_at,
            },
        );
        if was.is_none() {
            tracing::error!(
                platform = platform.as_str(),
                fix = %reason,
                "platform refused Klaxon's token: its calls are paused (kept, not dropped) until the token works"
            );
            crate::metrics::platform_paused(platform.as_str(), true);
        }
        recheck_at
    }

    /// A call went through: a paused platform resumes.
    fn resume(&self, platform: PlatformKind) {
        if self.pauses().remove(&platform).is_some() {
            tracing::info!(
                platform = platform.as_str(),
                "platform accepts Klaxon's token again: its queued calls resume"
            );
            crate::metrics::platform_paused(platform.as_str(), false);
        }
    }

    /// Holds announcement edits on `platform` for `window` after the change that queued them
    /// (a newer change supersedes the waiting edit and restarts the wait). A waiting edit does
    /// not hold back the incident's other calls. Called once per platform.
    pub fn with_debounce(
        mut self,
        clock: Arc<dyn crate::clock::Clock>,
        platform: PlatformKind,
        window: Duration,
    ) -> Self {
        if window.is_zero() {
            return self;
        }
        let d = self.debounce.get_or_insert_with(|| Debounce {
            clock,
            windows: BTreeMap::new(),
        });
        d.windows.insert(
            platform,
            chrono::Duration::from_std(window).unwrap_or(chrono::Duration::zero()),
        );
        self
    }

    /// How much longer a call waits for its debounce window, if it is a waiting
    /// announcement edit.
    fn debounced(&self, call: &store::outbox::Pending) -> Option<chrono::Duration> {
        let d = self.debounce.as_ref()?;
        let window = *d.windows.get(&call.tenant.platform)?;
        if call.attempts > 0 {
            return None;
        }
        let left = call.created_at + window - d.clock.now();
        let edit = matches!(
            serde_json::from_str::<Op>(&call.op),
            Ok(Op::Edit {
                kind: PostKind::Announcement,
                ..
            })
        );
        (edit && left > chrono::Duration::zero()).then_some(left)
    }

    /// Makes every call that is due, until none is left that can be made now. Returns when
    /// the earliest postponed call will be due, if any.
    pub async fn drain(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let _one_at_a_time = self.running.lock().await;
        let platforms: Vec<PlatformKind> = self.apis.keys().copied().collect();
        loop {
            let batch = {
                let mut conn = self.store.conn().await?;
                store::outbox::pending(&mut conn, &platforms, 500).await?
            };
            // Each incident's calls go strictly in order: only its oldest pending call is a
            // candidate. Different incidents' calls go concurrently. Posts to a shared channel
            // (the paging channel) go one at a time, in id order, so announcements keep the
            // order of the declares.
            let mut lanes: HashSet<(Tenant, Option<i64>, Lane)> = HashSet::new();
            // Incidents whose channel is still to be created: their topic waits for it.
            let mut creating: HashSet<(Tenant, Option<i64>)> = HashSet::new();
            let mut next_due: Option<DateTime<Utc>> = None;
            let mut heads = Vec::new();
            let mut shared_taken = false;
            let mut shared_waiting = false;
            let now = Utc::now();
            let pauses = self.pauses().clone();
            let clock_now = self.clock.now();
            // A paused platform's calls wait; when its recheck is due, one of them goes.
            let mut probing: HashSet<PlatformKind> = HashSet::new();
            for call in batch {
                if let Some(pause) = pauses.get(&call.tenant.platform)
                    && (pause.recheck_at > clock_now || !probing.insert(call.tenant.platform))
                {
                    // The recheck is on the dispatcher's clock; the wait is returned in real
                    // time, like every other due time here.
                    let left = (pause.recheck_at - clock_now).max(chrono::Duration::zero());
                    let at = now + left;
                    next_due = Some(next_due.map_or(at, |n| n.min(at)));
                    continue;
                }
                let op = serde_json::from_str::<Op>(&call.op).ok();
                let lane = match op {
                    Some(Op::SetTopic { .. }) => Lane::Topic,
                    Some(Op::CreateChannel { .. }) => {
                        creating.insert((call.tenant.clone(), call.incident_id));
                        Lane::Calls
                    }
                    _ => Lane::Calls,
                };
                if lane == Lane::Topic
                    && creating.contains(&(call.tenant.clone(), call.incident_id))
                {
                    continue;
                }
                if let Some(left) = self.debounced(&call) {
                    let at = now + left;
                    next_due = Some(next_due.map_or(at, |n| n.min(at)));
                    continue;
                }
                if !lanes.insert((call.tenant.clone(), call.incident_id, lane)) {
                    continue;
                }
                if let Some(at) = call.not_before.filter(|at| *at > now) {
                    next_due = Some(next_due.map_or(at, |n| n.min(at)));
                    continue;
                }
                if posts_to_shared_channel(op.as_ref()) {
                    if shared_taken {
                        shared_waiting = true;
                        continue;
                    }
                    shared_taken = true;
                }
                heads.push(call);
            }
            if heads.is_empty() {
                return Ok(next_due);
            }
            let mut calls = Vec::with_capacity(heads.len());
            for call in &heads {
                calls.push(Box::pin(self.make(call)));
            }
            let results: Vec<Result<(), DateTime<Utc>>> = futures_util::stream::iter(calls)
                .buffer_unordered(CONCURRENT_CALLS)
                .collect()
                .await;
            let mut progressed = false;
            for result in results {
                match result {
                    Ok(()) => progressed = true,
                    Err(retry_at) => {
                        next_due = Some(next_due.map_or(retry_at, |n| n.min(retry_at)))
                    }
                }
            }
            // A failed call is postponed, so another round only picks up what is ready.
            if !progressed && !shared_waiting {
                return Ok(next_due);
            }
        }
    }

    /// Runs until `shutdown`, draining whenever woken or when a postponed call is due. On
    /// shutdown it makes one last pass, bounded by `grace`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken, grace: Duration) {
        loop {
            let next = match self.drain().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "outbox drain failed");
                    Some(Utc::now() + chrono::Duration::seconds(5))
                }
            };
            let sleep = next
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        if tokio::time::timeout(grace, self.drain()).await.is_err() {
            tracing::warn!(
                "shutdown: some platform calls are still pending; they run at next start"
            );
        }
    }

    /// Makes one call and records the outcome. `Err` is when to try again.
    async fn make(&self, call: &store::outbox::Pending) -> Result<(), DateTime<Utc>> {
        use futures_util::FutureExt as _;
        // A call that panics (a bug, or an SDK choking on a platform's answer) fails this call
        // only, and is retried with backoff; the dispatcher goes on with the others.
        let attempt = std::panic::AssertUnwindSafe(self.attempt(call)).catch_unwind();
        let outcome = match tokio::time::timeout(CALL_TIMEOUT, attempt).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(panic)) => Err(Failure::Internal(anyhow::anyhow!(
                "the call panicked: {}",
                crate::supervise::panic_message(panic.as_ref())
            ))),
            Err(_) => Err(Failure::Api(ApiError::Transient {
                reason: format!("no answer within {}s", CALL_TIMEOUT.as_secs()),
                retry_after: None,
            })),
        };
        let now = Utc::now();
        crate::metrics::platform_call(
            call.tenant.platform.as_str(),
            &method_of(&call.op),
            match &outcome {
                Ok(()) => "ok",
                Err(Failure::Api(ApiError::Transient { reason, .. }))
                    if reason == "ratelimited" || reason == "HTTP 429" =>
                {
                    "rate_limited"
                }
                Err(Failure::Api(ApiError::Transient { .. }) | Failure::Internal(_)) => "retry",
                Err(Failure::Api(ApiError::Auth(_))) => "paused",
                Err(_) => "failed",
            },
        );
        match &outcome {
            Ok(()) => self.resume(call.tenant.platform),
            // The call stays as it is, neither tried nor failed: the token is what failed.
            Err(Failure::Api(ApiError::Auth(reason))) => {
                return Err(self.pause(call.tenant.platform, reason));
            }
            Err(_) => {}
        }
        let recorded = async {
            let mut conn = self.store.conn().await?;
            match outcome {
                Ok(()) => Ok(None),
                Err(Failure::Api(ApiError::Auth(_))) => Ok(None),
                Err(Failure::Api(ApiError::Unreachable(reason))) => {
                    tracing::error!(call = call.id, %reason, "platform call failed for good: the channel does not exist for Klaxon");
                    let mut tx = self.store.begin().await?;
                    store::outbox::mark_failed(&mut tx, call.id, &reason, now).await?;
                    self.tell_declarer(&mut tx, call, &reason).await?;
                    tx.commit().await?;
                    Ok(None)
                }
                Err(Failure::Api(ApiError::Transient {
                    reason,
                    retry_after,
                })) => {
                    if let Some(asked) = retry_after.filter(|w| *w > MAX_RETRY_AFTER) {
                        tracing::warn!(call = call.id, asked = ?asked, "the platform asked for an absurd wait; waiting the maximum instead");
                    }
                    let wait = retry_after
                        .map_or_else(|| backoff(call.attempts), |w| w.min(MAX_RETRY_AFTER));
                    let at = crate::clock::after(now, wait);
                    tracing::warn!(call = call.id, %reason, retry_in = ?wait, "platform call failed; will retry");
                    store::outbox::retry_later(&mut conn, call.id, &reason, at).await?;
                    Ok(Some(at))
                }
                Err(Failure::Api(ApiError::NameTaken)) => {
                    let reason = "name_taken outside channel creation";
                    tracing::error!(call = call.id, reason, "platform call failed for good");
                    store::outbox::mark_failed(&mut conn, call.id, reason, now).await?;
                    Ok(None)
                }
                Err(Failure::Api(ApiError::Permanent(reason)) | Failure::Impossible(reason)) => {
                    tracing::error!(call = call.id, %reason, "platform call failed for good");
                    store::outbox::mark_failed(&mut conn, call.id, &reason, now).await?;
                    Ok(None)
                }
                Err(Failure::Internal(e)) => {
                    let at = crate::clock::after(now, backoff(call.attempts));
                    tracing::error!(call = call.id, error = %format!("{e:#}"), "platform call hit an internal error; will retry");
                    store::outbox::retry_later(&mut conn, call.id, &format!("{e:#}"), at).await?;
                    Ok(Some(at))
                }
            }
        }
        .await;
        match recorded {
            Ok(None) => Ok(()),
            Ok(Some(at)) => Err(at),
            Err(e) => {
                let e: anyhow::Error = e;
                tracing::error!(call = call.id, error = %format!("{e:#}"), "could not record a platform call's outcome");
                Err(now + chrono::Duration::seconds(5))
            }
        }
    }

    async fn attempt(&self, call: &store::outbox::Pending) -> Result<(), Failure> {
        let api = self
            .apis
            .get(&call.tenant.platform)
            .ok_or_else(|| Failure::Impossible("platform not configured".into()))?;
        let op: Op = serde_json::from_str(&call.op).map_err(anyhow::Error::from)?;
        let incident = match call.incident_id {
            Some(id) => {
                let mut conn = self.store.conn().await?;
                store::incidents::get(&mut conn, id).await?
            }
            None => None,
        };
        let now = Utc::now();
        match op {
            Op::CreateChannel {
                private,
                topic,
                invite,
            } => {
                let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
                if let Some(id) = &incident.channel_id {
                    // Already created: a repeat after a crash must not open a second channel.
                    tracing::debug!(channel = %id, "channel already exists");
                } else {
                    let topic = self.resolve_rich(&call.tenant, topic).await?;
                    let mut request = NewChannel {
                        workspace: call.tenant.workspace.clone(),
                        name: String::new(),
                        private,
                        topic,
                        invite,
                    };
                    let channel = self
                        .create_channel(api.as_ref(), &incident, &mut request)
                        .await?;
                    let mut tx = self.store.begin().await?;
                    store::incidents::set_channel(&mut tx, incident.id, &channel).await?;
                    store::outbox::mark_done(&mut tx, call.id, now).await?;
                    tx.commit().await.map_err(anyhow::Error::from)?;
                    return Ok(());
                }
            }
            Op::Invite { users } => {
                let channel = incident_channel(incident.as_ref())?;
                api.invite(&channel, &users).await?;
            }
            Op::SetTopic { topic } => {
                let channel = incident_channel(incident.as_ref())?;
                let topic = self.resolve_rich(&call.tenant, topic).await?;
                api.set_topic(&channel, &topic).await?;
            }
            Op::Post {
                to,
                message,
                track,
                timeline_entry,
            } => {
                let channel = match to {
                    Target::Incident => incident_channel(incident.as_ref())?,
                    Target::Channel(c) => c,
                };
                let message = self.resolve_message(&call.tenant, message).await?;
                let posted = api.post(&channel, &message).await?;
                let mut tx = self.store.begin().await?;
                if let (Some(kind), Some(incident)) = (track, incident.as_ref()) {
                    // The channel id the platform answered with: later edits and pins use it.
                    store::posts::put(
                        &mut tx,
                        incident.id,
                        kind,
                        &posted.channel_id,
                        &posted.message,
                    )
                    .await?;
                }
                if let Some(entry) = timeline_entry {
                    store::timeline::set_message_ref(&mut tx, entry, &posted.message.0).await?;
                }
                store::outbox::mark_done(&mut tx, call.id, now).await?;
                tx.commit().await.map_err(anyhow::Error::from)?;
                return Ok(());
            }
            Op::Pin { kind } => {
                let (channel, message) = self.tracked(incident.as_ref(), kind).await?;
                api.pin(&channel, &message).await?;
            }
            Op::UploadPostmortem { version, comment } => {
                let channel = incident_channel(incident.as_ref())?;
                let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
                let draft = {
                    let mut conn = self.store.conn().await?;
                    store::postmortems::get(&mut conn, incident.id, Some(version)).await?
                }
                .ok_or_else(|| Failure::Impossible(format!("no postmortem version {version}")))?;
                let comment = self.resolve_message(&call.tenant, comment).await?;
                api.upload(
                    &channel,
                    &Upload {
                        filename: format!("{}-postmortem-v{version}.md", incident.key()),
                        title: format!("{} postmortem draft v{version}", incident.key()),
                        content: draft.markdown,
                        comment,
                    },
                )
                .await?;
            }
            Op::PostAlert {
                alert,
                channel,
                message,
            } => {
                let message = self.resolve_message(&call.tenant, message).await?;
                let posted = api.post(&channel, &message).await?;
                let mut tx = self.store.begin().await?;
                store::alerts::set_message(&mut tx, alert, &posted.message).await?;
                store::outbox::mark_done(&mut tx, call.id, now).await?;
                tx.commit().await.map_err(anyhow::Error::from)?;
                return Ok(());
            }
            Op::EditAlert { alert, message } => {
                let row = {
                    let mut conn = self.store.conn().await?;
                    store::alerts::get(&mut conn, alert).await?
                };
                let (channel, target) = row
                    .and_then(|a| a.message_ref.map(|m| (a.channel_id, m)))
                    .ok_or_else(|| {
                        Failure::Impossible(format!(
                            "alert {alert}'s announcement was never posted"
                        ))
                    })?;
                let message = self.resolve_message(&call.tenant, message).await?;
                api.edit(
                    &ChannelRef::new(channel.clone(), channel),
                    &target,
                    &message,
                )
                .await?;
            }
            Op::Edit { kind, message } => {
                let (channel, target) = self.tracked(incident.as_ref(), kind).await?;
                let message = self.resolve_message(&call.tenant, message).await?;
                api.edit(&channel, &target, &message).await?;
            }
            Op::Archive | Op::Unarchive => {
                let channel = incident_channel(incident.as_ref())?;
                let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
                let archive = op == Op::Archive;
                let archived = {
                    let mut conn = self.store.conn().await?;
                    store::incidents::archived_at(&mut conn, incident.id).await?
                };
                // Reopened before the archive was made, or never archived: nothing to do.
                let wanted = if archive {
                    !incident.is_open() && archived.is_none()
                } else {
                    archived.is_some()
                };
                if wanted {
                    if archive {
                        api.archive(&channel).await?;
                    } else {
                        api.unarchive(&channel).await?;
                    }
                }
                let mut tx = self.store.begin().await?;
                if wanted {
                    let at = archive.then_some(now);
                    store::incidents::set_archived(&mut tx, incident.id, at).await?;
                }
                store::outbox::mark_done(&mut tx, call.id, now).await?;
                tx.commit().await.map_err(anyhow::Error::from)?;
                return Ok(());
            }
        }
        let mut conn = self.store.conn().await?;
        store::outbox::mark_done(&mut conn, call.id, now).await?;
        Ok(())
    }

    /// A post to a shared channel (the paging channel) failed because the channel does not
    /// exist for Klaxon: the incident's channel is told, naming whoever declared, with the fix.
    async fn tell_declarer(
        &self,
        conn: &mut SqliteConnection,
        call: &store::outbox::Pending,
        reason: &str,
    ) -> anyhow::Result<()> {
        let (
            Some(incident_id),
            Ok(Op::Post {
                to: Target::Channel(channel),
                ..
            }),
        ) = (call.incident_id, serde_json::from_str::<Op>(&call.op))
        else {
            return Ok(());
        };
        let Some(incident) = store::incidents::get(conn, incident_id).await? else {
            return Ok(());
        };
        let line = Rich::new()
            .ping(&incident.declared_by)
            .text(" ⚠️ Klaxon could not post in ")
            .channel(&channel)
            .text(format!(
                " ({reason}): the channel does not exist for Klaxon. If it is private, invite Klaxon to it; otherwise check incidents.paging_channel."
            ));
        let notice = Op::Post {
            to: Target::Incident,
            message: Message::new().line(line),
            track: None,
            timeline_entry: None,
        };
        enqueue(conn, &call.tenant, Some(incident_id), &notice, Utc::now()).await
    }

    /// Creates the incident's channel under the first free name: the planned one, then the
    /// next suffixes that neither the platform (`name_taken`) nor another incident holds.
    async fn create_channel(
        &self,
        api: &dyn ChatApi,
        incident: &Incident,
        request: &mut NewChannel,
    ) -> Result<ChannelRef, Failure> {
        let limit = incident.tenant.platform.channel_name_limit();
        for n in 1..=MAX_NAME_TRIES {
            let candidate = naming::with_suffix(&incident.channel_base, n, limit);
            let mut conn = self.store.conn().await?;
            let ours = store::incidents::channel_name_used(
                &mut conn,
                &incident.tenant,
                &candidate,
                Some(incident.id),
            )
            .await?;
            drop(conn);
            if ours {
                continue;
            }
            request.name = candidate;
            match api.create_channel(request).await {
                Err(ApiError::NameTaken) => {
                    tracing::info!(name = %request.name, "channel name taken; trying the next suffix");
                }
                other => return Ok(other?),
            }
        }
        Err(Failure::Impossible(format!(
            "no free channel name after {MAX_NAME_TRIES} tries from {}",
            incident.channel_base
        )))
    }

    async fn tracked(
        &self,
        incident: Option<&Incident>,
        kind: PostKind,
    ) -> Result<(ChannelRef, klaxon_commands::MessageRef), Failure> {
        let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
        let mut conn = self.store.conn().await?;
        let (channel_id, message) = store::posts::get(&mut conn, incident.id, kind)
            .await?
            .ok_or_else(|| {
                Failure::Impossible(format!("the {} was never posted", kind.as_str()))
            })?;
        let name = if Some(&channel_id) == incident.channel_id.as_ref() {
            incident.channel_name.clone()
        } else {
            channel_id.clone()
        };
        Ok((ChannelRef::new(channel_id, name), message))
    }

    /// Fills in the ids of incident channels that did not exist when the text was written.
    async fn resolve_rich(&self, tenant: &Tenant, mut rich: Rich) -> anyhow::Result<Rich> {
        for span in &mut rich.0 {
            if let Span::Channel(channel) = span
                && channel.id.is_none()
            {
                let mut conn = self.store.conn().await?;
                if let Some(incident) =
                    store::incidents::by_planned_channel(&mut conn, tenant, &channel.name).await?
                {
                    *channel = incident.channel();
                }
            }
        }
        Ok(rich)
    }

    async fn resolve_message(
        &self,
        tenant: &Tenant,
        mut message: Message,
    ) -> anyhow::Result<Message> {
        let mut lines = Vec::with_capacity(message.lines.len());
        for line in message.lines {
            lines.push(self.resolve_rich(tenant, line).await?);
        }
        message.lines = lines;
        for field in &mut message.fields {
            field.value = self
                .resolve_rich(tenant, std::mem::take(&mut field.value))
                .await?;
        }
        Ok(message)
    }
}

fn incident_channel(incident: Option<&Incident>) -> Result<ChannelRef, Failure> {
    let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
    if incident.channel_id.is_none() {
        return Err(Failure::Impossible(format!(
            "{} has no channel (creating it failed)",
            incident.key()
        )));
    }
    Ok(incident.channel())
}

/// The stored call's kind (`post`, `edit`, `create_channel` …), for metrics.
fn method_of(op: &str) -> String {
    #[derive(Deserialize)]
    struct Tag {
        op: String,
    }
    serde_json::from_str::<Tag>(op).map_or_else(|_| "unknown".to_owned(), |t| t.op)
}

/// 1 s, 2 s, 4 s … capped at five minutes.
fn backoff(attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn edits_coalesce_posts_do_not() {
        let edit = Op::Edit {
            kind: PostKind::Announcement,
            message: Message::new(),
        };
        assert_eq!(edit.coalesce_key(), Some("edit:announcement"));
        let post = Op::Post {
            to: Target::Incident,
            message: Message::new(),
            track: None,
            timeline_entry: None,
        };
        assert_eq!(post.coalesce_key(), None);
    }
}
