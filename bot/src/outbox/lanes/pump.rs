//! The dispatch pass: reading the table into lanes and keeping their calls going until
//! nothing is left that can be made now.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use klaxon_commands::PlatformKind;
use tokio_util::sync::CancellationToken;

use super::{Lanes, Reread};
use crate::outbox::Dispatcher;
use crate::outbox::record::Outcome;
use crate::store::{self, outbox::Group, outbox::Pending, outbox::Read};

/// How many pending calls are read at once.
pub(in crate::outbox) const LOAD: i64 = 2000;

/// Shortest time between two whole reads of the table in one pass (the first is at once):
/// with a backlog, lanes the caps cut run dry often, and each whole read decodes up to
/// [`LOAD`] calls. A cut lane waits this long at most for its next calls.
const WHOLE_READ_GAP: Duration = Duration::from_millis(50);

/// How often, at most, a pass whose last whole read left calls out reads the table whole
/// again without being asked to.
const CAPPED_RECHECK: Duration = Duration::from_secs(5);

/// How many incidents the last whole read cut a recheck on SQLite reads on past their cut
/// at most (see [`CAPPED_RECHECK`]).
const RECHECK_TOP_UPS: usize = 256;

/// An incident the last whole read cut, and its largest call id read.
type TopUp = (Group, i64);

/// What to read.
#[derive(Default)]
struct Ask {
    /// The table whole; else what follows.
    whole: bool,
    /// The calls queued after this id.
    after: i64,
    /// These incidents' next calls.
    top_ups: Vec<TopUp>,
    /// The incidents whose first call comes after this id (a whole read left them out).
    page_after: Option<i64>,
    /// The posts to fixed channels and people after this id (a whole read cut them).
    shared_after: Option<i64>,
}

/// What a read brought.
enum Fetched {
    /// A whole read.
    All(Read),
    /// The calls queued since the last read, and what was read on past the caps.
    New {
        calls: Vec<Pending>,
        topped: Vec<(Group, Vec<Pending>)>,
        page: Option<Read>,
        shared: Option<Vec<Pending>>,
    },
}

impl Fetched {
    /// How many calls it brought.
    fn calls(&self) -> usize {
        match self {
            Self::All(read) => read.calls.len(),
            Self::New {
                calls,
                topped,
                page,
                shared,
            } => {
                calls.len()
                    + topped.iter().map(|(_, c)| c.len()).sum::<usize>()
                    + page.as_ref().map_or(0, |p| p.calls.len())
                    + shared.as_ref().map_or(0, Vec::len)
            }
        }
    }
}

impl Dispatcher {
    /// Makes every call that is due, until none is left that can be made now. Returns when
    /// the earliest postponed call will be due, if any.
    pub async fn drain(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let _one_at_a_time = self.running.lock().await;
        self.pump(None).await
    }

    /// Runs until `shutdown`, making calls as they are queued (the engine's `Notify`) and as
    /// postponed ones fall due. On shutdown it starts no new call, lets those in flight end
    /// and makes what else is due, all within `grace`; the rest stays queued for the next
    /// start.
    pub async fn run(self: std::sync::Arc<Self>, shutdown: CancellationToken, grace: Duration) {
        let serve = self.serve(&shutdown);
        tokio::pin!(serve);
        tokio::select! {
            biased;
            () = &mut serve => return,
            () = shutdown.cancelled() => {}
        }
        if tokio::time::timeout(grace, serve).await.is_err() {
            tracing::warn!(
                grace = ?grace,
                "shutdown: some platform calls are still pending; they run at next start"
            );
        }
    }

    /// The dispatch loop of [`Self::run`]; after `shutdown`, one last pass.
    async fn serve(&self, shutdown: &CancellationToken) {
        loop {
            let next = {
                let _one_at_a_time = self.running.lock().await;
                self.pump(Some(shutdown)).await
            };
            if shutdown.is_cancelled() {
                if let Err(e) = self.drain().await {
                    tracing::error!(error = %format!("{e:#}"), "outbox dispatch failed");
                }
                return;
            }
            let next = match next {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "outbox dispatch failed");
                    Some(Utc::now() + chrono::Duration::seconds(5))
                }
            };
            let sleep = next
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Starts every ready lane's next call and keeps going as calls end, reading the table
    /// again when woken (`running`: new calls were committed) or when a postponed call falls
    /// due. Returns, with the next due time, once nothing is in flight and nothing is ready,
    /// or once `running` is cancelled and the calls in flight have ended.
    ///
    /// The first read is whole: each lane's next calls. On SQLite, whose one writer commits
    /// call ids in order, later reads take only the calls queued since (past the largest id
    /// read), so a backlog is decoded once, not again at every call that queues another. An
    /// incident the caps cut reads on past what was read of it when one of its lanes runs
    /// dry; a whole read comes again only when some incidents were not read at all (or the
    /// shared channels' posts were cut), at most every [`WHOLE_READ_GAP`]. On PostgreSQL,
    /// where replicas' transactions may commit out of id order, every read is whole.
    async fn pump(
        &self,
        running: Option<&CancellationToken>,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        let platforms: Vec<PlatformKind> = self.apis.keys().copied().collect();
        let by_id = self.store.backend() == store::Backend::Sqlite;
        let limit = self.read_limit;
        let limit_len = usize::try_from(limit).unwrap_or(usize::MAX);
        let read = |ask: Ask| {
            let platforms = platforms.clone();
            Box::pin(async move {
                let mut conn = self.store.read().await?;
                let fetched = if ask.whole {
                    self.whole_reads
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Fetched::All(store::outbox::read_pending(&mut conn, &platforms, limit).await?)
                } else {
                    // Before the calls queued since: those read on here may be newer than
                    // the last read, and the read of what is new brings them too.
                    let page = match ask.page_after {
                        Some(after) => Some(
                            store::outbox::read_page(&mut conn, &platforms, limit, after).await?,
                        ),
                        None => None,
                    };
                    let shared = match ask.shared_after {
                        Some(after) => Some(
                            store::outbox::pending_shared_after(
                                &mut conn, &platforms, after, limit,
                            )
                            .await?,
                        ),
                        None => None,
                    };
                    let mut topped = Vec::with_capacity(ask.top_ups.len());
                    for (group, upto) in ask.top_ups {
                        let calls = store::outbox::pending_of(
                            &mut conn,
                            &group,
                            upto,
                            store::outbox::PER_INCIDENT,
                        )
                        .await?;
                        topped.push((group, calls));
                    }
                    let calls =
                        store::outbox::pending_after(&mut conn, &platforms, ask.after, limit)
                            .await?;
                    Fetched::New {
                        calls,
                        topped,
                        page,
                        shared,
                    }
                };
                self.calls_read.fetch_add(
                    u64::try_from(fetched.calls()).unwrap_or(u64::MAX),
                    std::sync::atomic::Ordering::Relaxed,
                );
                Ok(fetched)
            }) as futures_util::future::BoxFuture<'_, anyhow::Result<Fetched>>
        };
        let mut lanes = Lanes {
            by_id,
            ..Lanes::default()
        };
        let mut flying = FuturesUnordered::new();
        // Nothing is in flight when a pass starts (one pass at a time).
        self.buckets().reset_flying();
        // The table is read while the calls in flight go on (they need the database too, and
        // are polled only here). A call that ends during a whole read is read as it ended:
        // left out if it is finished, as its lane put it back if it waits.
        let mut reading = Some(read(Ask {
            whole: true,
            ..Ask::default()
        }));
        let mut reading_whole = true;
        let mut last_whole = std::time::Instant::now();
        let mut last_recheck = last_whole;
        let mut ended_while_reading: HashMap<i64, Option<Pending>> = HashMap::new();
        let mut reload = Reread::No;
        loop {
            let stopping = running.is_some_and(CancellationToken::is_cancelled);
            let mut next_due = None;
            if reading.is_none() {
                if !by_id && reload == Reread::New {
                    reload = Reread::All;
                }
                // What the caps left out is read again now and then even if no lane they cut
                // runs dry (its calls wait on a rate limit, say). On SQLite that is a read on
                // past the cut of some of the incidents cut, and of the shared posts.
                let recheck_due = lanes.coverage.capped()
                    && last_whole.elapsed().min(last_recheck.elapsed()) >= CAPPED_RECHECK;
                if recheck_due && by_id {
                    last_recheck = std::time::Instant::now();
                    let more: Vec<Group> = lanes
                        .coverage
                        .cut
                        .iter()
                        .filter(|g| !lanes.top_up.contains(*g))
                        .take(RECHECK_TOP_UPS)
                        .cloned()
                        .collect();
                    lanes.top_up.extend(more);
                    lanes.shared_top_up |= lanes.coverage.shared_cut;
                } else if recheck_due {
                    reload = Reread::All;
                }
                // On SQLite, incidents a whole read left out altogether are read a page at a
                // time, one page after another until none is left out.
                let reads_on = by_id
                    && (lanes.coverage.absent || lanes.shared_top_up || !lanes.top_up.is_empty());
                if reads_on {
                    reload = reload.max(Reread::New);
                }
                let whole_in = WHOLE_READ_GAP.saturating_sub(last_whole.elapsed());
                match reload {
                    Reread::All if whole_in.is_zero() => {
                        reading = Some(read(Ask {
                            whole: true,
                            ..Ask::default()
                        }));
                        reading_whole = true;
                        last_whole = std::time::Instant::now();
                        reload = Reread::No;
                    }
                    Reread::New => {
                        let top_ups = lanes
                            .top_up
                            .drain()
                            .filter_map(|g| {
                                let upto = lanes.coverage.upto.get(&g).copied()?;
                                Some((g, upto))
                            })
                            .collect();
                        let cov = &lanes.coverage;
                        reading = Some(read(Ask {
                            whole: false,
                            after: lanes.high_water,
                            top_ups,
                            page_after: (by_id && cov.absent).then_some(cov.first_upto),
                            shared_after: (by_id && lanes.shared_top_up && cov.shared_cut)
                                .then_some(cov.shared_upto),
                        }));
                        lanes.shared_top_up = false;
                        reading_whole = false;
                        reload = Reread::No;
                    }
                    _ => {}
                }
            }
            // While a read of what is new is under way the lanes go on: it only adds to them.
            let replacing = reading.is_some() && reading_whole;
            if !stopping && !replacing {
                next_due = self.start_ready(&mut lanes, &mut flying);
            }
            if reading.is_none() {
                let whole_at = if reload == Reread::All {
                    Some(WHOLE_READ_GAP.saturating_sub(last_whole.elapsed()))
                } else if lanes.coverage.capped() {
                    let since = last_whole.elapsed().min(last_recheck.elapsed());
                    Some(CAPPED_RECHECK.saturating_sub(since))
                } else {
                    None
                };
                if let Some(left) = whole_at {
                    let at = Utc::now() + chrono::Duration::from_std(left).unwrap_or_default();
                    next_due = Some(next_due.map_or(at, |n: DateTime<Utc>| n.min(at)));
                }
            }
            self.in_flight
                .store(flying.len(), std::sync::atomic::Ordering::Relaxed);
            if flying.is_empty() && reading.is_none() && reload == Reread::No {
                return Ok(next_due);
            }
            let wait = next_due
                .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            let woken = async {
                match running {
                    Some(stop) if !stopping => tokio::select! {
                        () = self.wake.notified() => {}
                        () = stop.cancelled() => {}
                    },
                    _ => std::future::pending().await,
                }
            };
            let read_done = async {
                match reading.as_mut() {
                    Some(read) => read.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                fetched = read_done => {
                    reading = None;
                    match fetched? {
                        Fetched::All(mut read) => {
                            read.calls.retain_mut(|c| match ended_while_reading.get(&c.id) {
                                None => true,
                                Some(None) => false,
                                Some(Some(back)) => {
                                    back.clone_into(c);
                                    true
                                }
                            });
                            ended_while_reading.clear();
                            lanes.load(read);
                        }
                        Fetched::New {
                            calls,
                            topped,
                            page,
                            shared,
                        } => {
                            // More new calls than one read takes: on SQLite the next read
                            // reads on past them; elsewhere their lanes are read whole.
                            let more = calls.len() >= limit_len;
                            // What was read on came before the read of what is new, which,
                            // unless cut, brought every call since: the next one reads past
                            // both.
                            if !more {
                                let last = page.iter().flat_map(|p| &p.calls)
                                    .chain(shared.iter().flatten())
                                    .chain(topped.iter().flat_map(|(_, c)| c))
                                    .map(|c| c.id)
                                    .max();
                                lanes.high_water = lanes.high_water.max(last.unwrap_or(0));
                            }
                            if let Some(page) = page {
                                lanes.paged(page);
                            }
                            if let Some(shared) = shared {
                                lanes.shared_topped_up(shared, limit);
                            }
                            for (group, calls) in topped {
                                lanes.topped_up(&group, calls, store::outbox::PER_INCIDENT);
                            }
                            if lanes.add(calls) || (more && !by_id) {
                                reload = reload.max(Reread::All);
                            } else if more {
                                reload = reload.max(Reread::New);
                            }
                        }
                    }
                }
                Some((lane, call, outcome)) = flying.next() => {
                    let id = call.id;
                    let lost = matches!(outcome, Outcome::Lost);
                    let again = self.finish(&mut lanes, lane.clone(), call, outcome);
                    // A call another replica holds stays as the read has it: its lane's head.
                    if reading.is_some() && reading_whole && !lost {
                        let back = lanes
                            .queues
                            .get(&lane)
                            .and_then(VecDeque::front)
                            .filter(|c| c.id == id)
                            .cloned();
                        ended_while_reading.insert(id, back);
                    }
                    reload = reload.max(again);
                }
                // A call in flight was answered and left its bucket: the bucket's next call
                // may go while the first's outcome is committed.
                () = self.released.notified() => {
                    let keys = self.buckets().take_released();
                    for key in &keys {
                        lanes.bucket_freed(key);
                    }
                }
                () = woken => {
                    lanes.wake_sleeping();
                    reload = reload.max(Reread::New);
                }
                () = tokio::time::sleep(wait) => {
                    // Held lanes (another replica's claims) are rechecked by a whole read;
                    // everything else waited on is in memory.
                    reload = reload.max(if by_id { Reread::New } else { Reread::All });
                }
            }
        }
    }
}
