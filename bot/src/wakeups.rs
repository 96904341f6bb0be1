//! Wake-ups from the other replicas, on PostgreSQL: a connection that `LISTEN`s on
//! [`crate::store::notify::CHANNEL`] and wakes this replica's dispatcher when another one queued
//! platform calls, and its scheduler when another one changed reminders (each transaction that
//! does sends the notification, delivered at its commit). A notification can be lost (the
//! listening connection dropped, the server restarted), so every [`FALLBACK_POLL`] both are
//! woken anyway, and once more each time the connection is made again: a lost notification
//! delays a call or a reminder by that much at most, it never loses one.
//!
//! The listening connection is a session of its own: behind a transaction pooler (PgBouncer
//! in transaction mode) `LISTEN` is not delivered, and the fallback poll is what wakes replicas.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::notify::{CHANNEL, Wake};

/// How often the dispatcher and the scheduler are woken without a notification.
pub const FALLBACK_POLL: Duration = Duration::from_secs(5);

/// Longest pause before connecting again after the listening connection failed.
const MAX_RECONNECT: Duration = Duration::from_secs(5);

/// What a notification wakes.
#[derive(Clone)]
pub struct Wakeups {
    /// The PostgreSQL URL to listen on.
    pub url: String,
    /// The dispatcher's wake-up.
    pub outbox: Arc<Notify>,
    /// The scheduler's wake-up.
    pub scheduler: Arc<Notify>,
    /// [`FALLBACK_POLL`] unless a test says otherwise.
    pub poll: Duration,
}

impl Wakeups {
    fn wake(&self, what: Option<Wake>) {
        if what != Some(Wake::Reminders) {
            self.outbox.notify_one();
        }
        if what != Some(Wake::Outbox) {
            self.scheduler.notify_one();
        }
    }

    /// Listens until `stop`, connecting again whenever the connection fails.
    pub async fn run(self, stop: CancellationToken) {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.listen(&stop).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), retry_in = ?pause, "listening for other replicas' wake-ups failed; polling meanwhile");
                }
            }
            // Whatever was notified meanwhile was lost: look now rather than at the next poll.
            self.wake(None);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(MAX_RECONNECT);
        }
    }

    /// One listening connection, until `stop` (`Ok`) or until it fails.
    async fn listen(&self, stop: &CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(CHANNEL).await?;
        tracing::debug!(channel = CHANNEL, "listening for other replicas' wake-ups");
        // Anything notified before the LISTEN took effect is read now.
        self.wake(None);
        let mut poll = tokio::time::interval(self.poll.max(Duration::from_millis(10)));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                _ = poll.tick() => self.wake(None),
                received = listener.try_recv() => match received? {
                    Some(notification) => self.wake(Wake::parse(notification.payload())),
                    None => {
                        // The connection was lost (and notifications with it); `try_recv`
                        // connects again on the next call.
                        tracing::warn!("the listening connection was lost; connecting again");
                        self.wake(None);
                    }
                },
            }
        }
    }
}
