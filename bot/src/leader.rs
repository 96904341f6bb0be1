//! Leadership: a role that one replica plays at a time (the Discord gateway's connection, lease
//! [`DISCORD_GATEWAY`]), held through a lease row ([`crate::store::leases`]) that its holder
//! renews every [`Timing::renew`] for [`Timing::lease`]. A replica that stops renewing (it died,
//! or lost the database) loses the lease when it expires, and whichever replica tries next takes
//! it: with the defaults, within 13 s of the last renewal. A leader whose renewal fails steps
//! down on its own before its lease can expire, so two replicas never both believe they lead
//! (their clocks agreeing, see `leases`). A clean stop releases the lease at once.
//!
//! On SQLite there is one process: it leads from the start, without a row ([`Leader::sole`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::store::{Backend, Store, leases};

/// The lease of the Discord gateway's connection.
pub const DISCORD_GATEWAY: &str = "discord-gateway";

/// How long a lease lasts and how often its holder renews it (and the others try to take it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub lease: Duration,
    pub renew: Duration,
}

impl Default for Timing {
    /// A 10 s lease renewed every 3 s: a new leader within 13 s of the old one dying.
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
            renew: Duration::from_secs(3),
        }
    }
}

/// One lease, as this replica sees it.
pub struct Leader {
    /// `None` on SQLite: held for good.
    store: Option<Store>,
    name: &'static str,
    owner: String,
    timing: Timing,
    /// Whether this replica holds the lease now.
    held: watch::Sender<bool>,
    /// Until when (this process' clock) the last successful renewal holds it at the latest.
    valid_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Leader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leader")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("leads", &self.leads())
            .finish_non_exhaustive()
    }
}

impl Leader {
    /// Lease `name` for replica `owner` on `store`: through the database on PostgreSQL, held
    /// from the start on SQLite. Not held until [`Self::try_once`] or [`Self::run`] takes it.
    pub fn new(store: &Store, name: &'static str, owner: &str, timing: Timing) -> Arc<Self> {
        match store.backend() {
            Backend::Sqlite => Self::sole(name, owner),
            Backend::Postgres => Arc::new(Self {
                store: Some(store.clone()),
                name,
                owner: owner.to_owned(),
                timing,
                held: watch::channel(false).0,
                valid_until: Mutex::new(None),
            }),
        }
    }

    /// A lease this replica holds for good (the only process on its database).
    pub fn sole(name: &'static str, owner: &str) -> Arc<Self> {
        Arc::new(Self {
            store: None,
            name,
            owner: owner.to_owned(),
            timing: Timing::default(),
            held: watch::channel(true).0,
            valid_until: Mutex::new(None),
        })
    }

    /// The lease's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// This replica's id, the lease's owner when it holds it.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether this replica holds the lease now.
    pub fn leads(&self) -> bool {
        *self.held.borrow()
    }

    /// Follows [`Self::leads`].
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.held.subscribe()
    }

    fn valid_until(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.valid_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, leads: bool) {
        let changed = self.held.send_if_modified(|held| {
            let changed = *held != leads;
            *held = leads;
            changed
        });
        if changed {
            if leads {
                tracing::info!(lease = self.name, replica = %self.owner, "this replica took the lease: it leads");
            } else {
                tracing::warn!(lease = self.name, replica = %self.owner, "this replica no longer holds the lease");
            }
        }
    }

    /// One attempt to take or renew the lease (bounded by the renewal interval); whether this
    /// replica holds it afterwards. A failed attempt keeps a lease held only while the last
    /// renewal still covers the next attempt's end: the pause before it and its own bound, two
    /// intervals (with the defaults, one quick failure is ridden out, a second steps down,
    /// 4 s or more before the lease expires).
    pub async fn try_once(&self) -> bool {
        let Some(store) = &self.store else {
            return true;
        };
        let started = Instant::now();
        let now = Utc::now();
        let until = crate::clock::after(now, self.timing.lease);
        let attempt = async {
            let mut tx = store.begin().await?;
            let held = leases::take(&mut tx, self.name, &self.owner, now, until).await?;
            tx.commit().await?;
            anyhow::Ok(held)
        };
        match tokio::time::timeout(self.timing.renew, attempt).await {
            Ok(Ok(held)) => {
                *self.valid_until() = held.then(|| started + self.timing.lease);
                self.set(held);
            }
            outcome => {
                let error = match outcome {
                    Ok(Err(e)) => format!("{e:#}"),
                    _ => format!("no answer within {:?}", self.timing.renew),
                };
                let covered = self
                    .valid_until()
                    .is_some_and(|until| Instant::now() + 2 * self.timing.renew < until);
                tracing::warn!(lease = self.name, %error, still_held = covered, "could not renew or take the lease");
                if !covered {
                    *self.valid_until() = None;
                    self.set(false);
                }
            }
        }
        self.leads()
    }

    /// Takes or renews the lease every [`Timing::renew`] until `stop`, then releases it.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        if self.store.is_none() {
            return;
        }
        loop {
            self.try_once().await;
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.timing.renew) => {}
            }
        }
        self.release().await;
    }

    /// Gives the lease up now, if held (a clean stop): another replica takes it at its next try.
    pub async fn release(&self) {
        let Some(store) = &self.store else {
            return;
        };
        if !self.leads() {
            return;
        }
        self.set(false);
        *self.valid_until() = None;
        let released = async {
            let mut tx = store.begin().await?;
            leases::release(&mut tx, self.name, &self.owner).await?;
            tx.commit().await
        };
        if let Err(e) = released.await {
            tracing::warn!(lease = self.name, error = %format!("{e:#}"), "could not release the lease; it expires by itself");
        }
    }
}
