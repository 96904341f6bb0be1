//! The outbox: platform calls written with the command that caused them, made afterwards.
//!
//! A command commits its effects and the calls they imply in one transaction, then replies.
//! This dispatcher makes the calls through the adapters' [`ChatApi`], in lanes ([`lanes`]):
//! an incident's calls in id order (so a channel exists before anything is posted in it), its
//! topic edits in a lane of their own, and posts to a shared channel (the paging channel) in
//! that channel's lane, in id order, so an announcement never waits for its incident's
//! channel. Lanes run concurrently, up to [`IN_FLIGHT`] calls at once, none waiting on
//! another: a slow or failing call holds only its own lane. Every call has a timeout
//! ([`CALL_TIMEOUT`]); transient failures are retried with backoff or the platform's
//! `Retry-After` (at most [`MAX_RETRY_AFTER`]). Calls also share the platform's rate-limit
//! buckets ([`bucket`]): one call per bucket at the platform at a time, oldest first (a few
//! more getting ready meanwhile), and a 429 pauses the whole bucket, whose calls then go at
//! its pace. A crash after the reply loses nothing: pending
//! calls are still in the table when the bot starts again. A crash between a platform accepting
//! a call and the call being marked done repeats nothing others would see twice: a channel
//! creation claims its name first and a retry adopts what it made; a post is marked started
//! and carries its call's key ([`klaxon_commands::Once`]) for the adapter to find it by. A call
//! that sets a state (a topic, a pin, an edit) may be made again.
//!
//! Replicas sharing one PostgreSQL database each run a dispatcher: a call is claimed for this
//! replica ([`Dispatcher::owner`]) for a lease ([`Dispatcher::lease`], on the dispatcher's
//! clock) before it is made, and made only if the claim took; a lane whose head another
//! replica holds waits for it, and a claim whose lease passed (its replica died mid-call) is
//! taken over, the crash rules above keeping what it may have made from being made twice.
//!
//! A platform that refuses Klaxon's token or app (`ApiError::Auth`) pauses: its calls stay
//! queued, untouched, `/readyz` and a metric say so, and one call is tried again every
//! [`AUTH_RECHECK`] (or all of them at the next start, with a new token).

mod bucket;
mod call;
mod gate;
mod lanes;
mod record;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use klaxon_commands::{ApiError, ChatApi, PlatformKind};
use tokio::sync::{Mutex, Notify};

use crate::store::Store;
pub use crate::store::outbox::{Op, Target, enqueue};
use crate::store::posts::PostKind;

/// How many calls are in flight at once, over all lanes.
pub const IN_FLIGHT: usize = 8;

/// How many suffixes to try before giving up on a channel name.
const MAX_NAME_TRIES: u32 = 50;

/// Longest wait between two tries of a failing call.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How often a paused platform's token is tried again, with one of its queued calls.
pub const AUTH_RECHECK: Duration = Duration::from_secs(60);

/// Longest wait a platform may ask for (`Retry-After`): a longer one (a bug, a proxy, a
/// hostile answer) is cut to this, so a call is never put off for good.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Longest a single call may take, the SDK's own short rate-limit waits included (serenity's
/// limiter sleeps inside a call only under `klaxon_discord::INLINE_WAIT`; a longer wait
/// postpones the call instead). Past it the call counts as a transient failure and is
/// retried with backoff; only its own lane waited for it.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How much longer than the call timeout a claim on a call lasts ([`Dispatcher::lease`]): it
/// covers the claim's own commit and the recording of a failed call's outcome (a write that may
/// wait up to 30 s for the writer), and the clock skew between replicas, which must stay well
/// under it (NTP keeps it to milliseconds). A replica that dies mid-call holds its calls this
/// long past the timeout; then another takes them over.
pub const LEASE_MARGIN: Duration = Duration::from_secs(90);

/// A platform whose token or app was refused.
#[derive(Debug, Clone)]
struct Pause {
    /// What to fix, from the adapter.
    reason: String,
    /// When one queued call is tried again.
    recheck_at: DateTime<Utc>,
}

/// Makes pending calls through the configured platforms.
pub struct Dispatcher {
    store: Store,
    apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>>,
    wake: Arc<Notify>,
    /// One pump at a time, so no call is made twice concurrently.
    running: Mutex<()>,
    /// Announcement edits on this platform wait this long after the change that queued them,
    /// by the engine's clock, so that a burst of changes is one edit.
    debounce: Option<Debounce>,
    /// Platforms paused because their token or app was refused.
    paused: std::sync::Mutex<BTreeMap<PlatformKind, Pause>>,
    /// The clock a paused platform's recheck and the calls' claims (their leases) are timed on:
    /// the engine's (a manual one in tests, so that a test moves a dead replica's lease past).
    clock: Arc<dyn crate::clock::Clock>,
    /// Longest a call may take ([`CALL_TIMEOUT`]; tests shorten it).
    call_timeout: Duration,
    /// The platforms' rate-limit buckets ([`bucket`]), kept from one pass to the next.
    buckets: std::sync::Mutex<bucket::Buckets>,
    /// Told when a call in flight was answered and left its bucket (before its outcome is
    /// committed): the calls waiting on that bucket may start.
    released: Notify,
    /// Told whenever a bucket's gate may let another call through ([`gate`]).
    gate: Notify,
    /// Calls in flight now (for `/readyz` and `/metrics`).
    in_flight: std::sync::atomic::AtomicUsize,
    /// Who this dispatcher claims calls as: the replica ([`crate::replica::id`]).
    owner: String,
    /// How many pending calls one read of the table takes at most ([`lanes::LOAD`]; tests
    /// lower it to put a backlog past it).
    read_limit: i64,
    /// Calls read from the table so far, over all reads (for tests and benchmarks: each
    /// read decodes them).
    calls_read: std::sync::atomic::AtomicU64,
    /// Whole reads of the table so far (for tests and benchmarks: each costs a scan of every
    /// pending call).
    whole_reads: std::sync::atomic::AtomicU64,
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
    /// The call's turn at its rate-limit bucket did not come ([`Dispatcher::send`]): nothing
    /// was sent, and the call goes back to its lane as it was.
    NotSent,
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
            call_timeout: CALL_TIMEOUT,
            buckets: std::sync::Mutex::default(),
            released: Notify::new(),
            gate: Notify::new(),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            owner: crate::replica::id().to_owned(),
            read_limit: lanes::LOAD,
            calls_read: std::sync::atomic::AtomicU64::new(0),
            whole_reads: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Reads at most `limit` pending calls at once instead of [`lanes::LOAD`].
    #[must_use]
    pub fn with_read_limit(mut self, limit: i64) -> Self {
        self.read_limit = limit.max(1);
        self
    }

    /// How many calls this dispatcher's reads of the table have brought so far: with a
    /// backlog, about one read per call, not one per call for every call that queues another.
    pub fn calls_read(&self) -> u64 {
        self.calls_read.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many times this dispatcher has read the table whole (each incident's next calls):
    /// on SQLite once per pass, however large the backlog; what a read left out is read on.
    pub fn whole_reads(&self) -> u64 {
        self.whole_reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Claims calls as `owner` instead of this process's replica id (tests run two replicas
    /// in one process).
    #[must_use]
    pub fn with_owner(mut self, owner: &str) -> Self {
        owner.clone_into(&mut self.owner);
        self
    }

    /// Who this dispatcher claims calls as.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// How long a claim on a call holds: longer than any call may take, with
    /// [`LEASE_MARGIN`] to spare.
    pub fn lease(&self) -> Duration {
        self.call_timeout + LEASE_MARGIN
    }

    /// Times a paused platform's recheck and the calls' claims on `clock` (the engine's)
    /// instead of the system's.
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Gives up on a call after `timeout` instead of [`CALL_TIMEOUT`].
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The platforms whose calls are paused, with what to fix.
    pub fn paused(&self) -> Vec<(PlatformKind, String)> {
        self.pauses()
            .iter()
            .map(|(p, pause)| (*p, pause.reason.clone()))
            .collect()
    }

    /// Calls this process is making now: at most one per lane, at most [`IN_FLIGHT`].
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, bucket::Buckets> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    fn debounced(&self, call: &crate::store::outbox::Pending) -> Option<chrono::Duration> {
        let d = self.debounce.as_ref()?;
        let window = *d.windows.get(&call.tenant.platform)?;
        if call.attempts > 0 {
            return None;
        }
        let left = call.created_at + window - d.clock.now();
        let edit = matches!(
            call.op,
            Op::Edit {
                kind: PostKind::Announcement,
                ..
            }
        );
        (edit && left > chrono::Duration::zero()).then_some(left)
    }
}
