//! Retention: finished platform calls and answered deliveries are deleted once they are older
//! than `[retention]` says (30 days by default); the timeline, incidents and everything a
//! postmortem reads are kept forever.
//!
//! A finished `outbox` row (done, failed or superseded) is only a record that a call was made,
//! and a `deliveries` row only has to outlive a platform's retries (seconds to minutes), so
//! neither is needed after a month. The scheduler runs [`Retention::run_if_due`] about once an
//! hour on the engine's clock (so tests drive it with a manual clock), in small batches, so
//! that commands never wait long behind it.

use std::sync::{Arc, Mutex, PoisonError};

use crate::clock::Clock;
use crate::config::RetentionConfig;
use crate::store::{self, Store};
use chrono::{DateTime, Utc};

/// How often retention runs.
const EVERY: chrono::Duration = chrono::Duration::hours(1);

/// What one run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub outbox: u64,
    pub deliveries: u64,
}

/// Runs retention when it is due.
pub struct Retention {
    store: Store,
    clock: Arc<dyn Clock>,
    config: RetentionConfig,
    last_run: Mutex<Option<DateTime<Utc>>>,
}

impl Retention {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: RetentionConfig) -> Self {
        Self {
            store,
            clock,
            config,
            last_run: Mutex::new(None),
        }
    }

    /// When the next run is due (now, before the first one).
    pub fn next_run(&self) -> DateTime<Utc> {
        let last = *self.last_run.lock().unwrap_or_else(PoisonError::into_inner);
        last.map_or_else(|| self.clock.now(), |at| at + EVERY)
    }

    /// Deletes what is past its retention, if an hour has passed since the last run.
    pub async fn run_if_due(&self) -> anyhow::Result<Option<Pruned>> {
        let now = self.clock.now();
        if self.next_run() > now {
            return Ok(None);
        }
        let pruned = self.run(now).await?;
        *self.last_run.lock().unwrap_or_else(PoisonError::into_inner) = Some(now);
        if pruned != Pruned::default() {
            tracing::info!(
                outbox = pruned.outbox,
                deliveries = pruned.deliveries,
                outbox_days = self.config.outbox_days,
                deliveries_days = self.config.deliveries_days,
                "retention: deleted finished platform calls and answered deliveries"
            );
        }
        Ok(Some(pruned))
    }

    async fn run(&self, now: DateTime<Utc>) -> anyhow::Result<Pruned> {
        let mut pruned = Pruned::default();
        if let Some(before) = cutoff(now, self.config.outbox_days) {
            pruned.outbox = self.batches(before, Table::Outbox).await?;
        }
        if let Some(before) = cutoff(now, self.config.deliveries_days) {
            pruned.deliveries = self.batches(before, Table::Deliveries).await?;
        }
        // Sign-in links and sessions of the pages are of no use once expired.
        let mut tx = self.store.begin().await?;
        let expired = store::web::purge(&mut tx, now).await?;
        tx.commit().await?;
        if expired > 0 {
            tracing::info!(
                expired,
                "retention: deleted expired sign-in links and sessions"
            );
        }
        Ok(pruned)
    }

    /// Deletes in batches of [`BATCH`], one short transaction each.
    async fn batches(&self, before: DateTime<Utc>, table: Table) -> anyhow::Result<u64> {
        const BATCH: i64 = 1000;
        let mut total = 0;
        loop {
            let mut tx = self.store.begin().await?;
            let n = match table {
                Table::Outbox => store::outbox::prune_finished(&mut tx, before, BATCH).await?,
                Table::Deliveries => store::deliveries::prune(&mut tx, before, BATCH).await?,
            };
            tx.commit().await?;
            total += n;
            if n < BATCH.unsigned_abs() {
                return Ok(total);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Table {
    Outbox,
    Deliveries,
}

/// `now` minus `days`, or `None` when they are kept forever.
fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| {
        now.checked_sub_signed(chrono::Duration::days(i64::from(days)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    })
}
