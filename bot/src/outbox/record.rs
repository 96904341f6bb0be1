//! One call made and its outcome recorded: the timeout, a panic caught, the metric, and the
//! row marked done, failed or postponed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use klaxon_commands::ApiError;

use super::{Dispatcher, Failure, MAX_BACKOFF, MAX_RETRY_AFTER};
use crate::store;

/// How one call ended, for its lane.
pub(super) enum Outcome {
    /// Done or failed for good; `queued`: it queued other calls.
    Done { queued: bool },
    /// Postponed until then (real time); `limited`: by the platform's rate limit, which
    /// pauses the call's whole bucket.
    Retry { at: DateTime<Utc>, limited: bool },
    /// Its platform refused the token: the call is untouched and waits for the recheck.
    Paused,
    /// Another replica holds the call (or made it already): this one did not make it, and
    /// its lane waits for a fresh read of the table.
    Lost,
    /// On SQLite (one process), the call is no longer pending: a newer edit superseded it.
    /// There is nothing to make; its lane goes on.
    Gone,
    /// Its turn at its rate-limit bucket did not come: nothing was sent or recorded, and the
    /// call is back at its lane's head, waiting on its bucket.
    Deferred,
}

/// A failed call's outcome not recorded because this replica's claim lapsed mid-call and
/// another took the call over: the lane waits for a fresh read, the other replica records.
fn taken_over(id: i64) -> anyhow::Result<Outcome> {
    tracing::warn!(
        call = id,
        "the call outlived its lease and another replica took it over; its outcome is theirs"
    );
    Ok(Outcome::Lost)
}

impl Dispatcher {
    /// Makes one call and records the outcome. Each request to the platform has the call
    /// timeout from when its turn at its bucket came ([`Dispatcher::send`]); the whole attempt,
    /// whose other waits are the database's, is cut off past twice that and the gate's limit.
    pub(super) async fn make(&self, call: &mut store::outbox::Pending) -> Outcome {
        use futures_util::FutureExt as _;
        let incident = match self.claim(call).await {
            Ok(Some((claimed, incident))) => {
                call.started_at = claimed.started_at;
                incident
            }
            Ok(None) if self.store.backend() == store::Backend::Sqlite => {
                tracing::debug!(call = call.id, "the call is no longer pending");
                return Outcome::Gone;
            }
            Ok(None) => {
                tracing::debug!(call = call.id, "another replica holds the call");
                return Outcome::Lost;
            }
            Err(e) => {
                tracing::error!(call = call.id, error = %format!("{e:#}"), "could not claim a platform call");
                return Outcome::Retry {
                    at: Utc::now() + chrono::Duration::seconds(5),
                    limited: false,
                };
            }
        };
        // A call that panics (a bug, or an SDK choking on a platform's answer) fails this call
        // only, and is retried with backoff; the dispatcher goes on with the others.
        let call = &*call;
        let attempt = std::panic::AssertUnwindSafe(self.attempt(call, incident)).catch_unwind();
        let outcome = match tokio::time::timeout(self.attempt_limit(), attempt).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(panic)) => Err(Failure::Internal(anyhow::anyhow!(
                "the call panicked: {}",
                crate::supervise::panic_message(panic.as_ref())
            ))),
            Err(_) => Err(Failure::Api(ApiError::Transient {
                reason: format!("not done within {:?}", self.attempt_limit()),
                retry_after: None,
            })),
        };
        if matches!(outcome, Err(Failure::NotSent)) {
            self.release(call).await;
            return Outcome::Deferred;
        }
        let now = Utc::now();
        crate::metrics::platform_call(
            call.tenant.platform.as_str(),
            call.op.method(),
            match &outcome {
                Ok(_) => "ok",
                Err(Failure::Api(e)) if e.is_rate_limit() => "rate_limited",
                Err(Failure::Api(ApiError::Transient { .. }) | Failure::Internal(_)) => "retry",
                Err(Failure::Api(ApiError::Auth(_))) => "paused",
                Err(_) => "failed",
            },
        );
        match &outcome {
            // Nothing more to record: the call's own transaction marked it done.
            Ok(queued) => {
                self.resume(call.tenant.platform);
                return Outcome::Done { queued: *queued };
            }
            // The call stays as it is, neither tried nor failed: the token is what failed.
            Err(Failure::Api(ApiError::Auth(reason))) => {
                self.pause(call.tenant.platform, reason);
                self.release(call).await;
                return Outcome::Paused;
            }
            Err(_) => {}
        }
        let limited = matches!(&outcome, Err(Failure::Api(e)) if e.is_rate_limit());
        let owner = self.owner.as_str();
        let recorded = async {
            let mut conn = self.store.begin().await?;
            let recorded = match outcome {
                Ok(queued) => Ok(Outcome::Done { queued }),
                Err(Failure::Api(ApiError::Auth(_))) => Ok(Outcome::Paused),
                Err(Failure::NotSent) => Ok(Outcome::Deferred),
                Err(Failure::Api(ApiError::Unreachable(reason))) => {
                    tracing::error!(call = call.id, %reason, "platform call failed for good: the channel does not exist for Klaxon");
                    if !store::outbox::mark_failed(&mut conn, call.id, Some(owner), &reason, now).await? {
                        return taken_over(call.id);
                    }
                    let told = self.tell_declarer(&mut conn, call, &reason).await?;
                    Ok(Outcome::Done { queued: told })
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
                    if !store::outbox::retry_later(&mut conn, call.id, owner, &reason, at).await? {
                        return taken_over(call.id);
                    }
                    Ok(Outcome::Retry { at, limited })
                }
                Err(Failure::Api(ApiError::NameTaken)) => {
                    let reason = "name_taken outside channel creation";
                    tracing::error!(call = call.id, reason, "platform call failed for good");
                    if !store::outbox::mark_failed(&mut conn, call.id, Some(owner), reason, now).await? {
                        return taken_over(call.id);
                    }
                    Ok(Outcome::Done { queued: false })
                }
                Err(Failure::Api(ApiError::Permanent(reason)) | Failure::Impossible(reason)) => {
                    tracing::error!(call = call.id, %reason, "platform call failed for good");
                    if !store::outbox::mark_failed(&mut conn, call.id, Some(owner), &reason, now).await? {
                        return taken_over(call.id);
                    }
                    Ok(Outcome::Done { queued: false })
                }
                Err(Failure::Internal(e)) => {
                    let at = crate::clock::after(now, backoff(call.attempts));
                    tracing::error!(call = call.id, error = %format!("{e:#}"), "platform call hit an internal error; will retry");
                    if !store::outbox::retry_later(&mut conn, call.id, owner, &format!("{e:#}"), at)
                        .await?
                    {
                        return taken_over(call.id);
                    }
                    Ok(Outcome::Retry { at, limited: false })
                }
            };
            conn.commit().await?;
            recorded
        }
        .await;
        match recorded {
            Ok(outcome) => outcome,
            Err(e) => {
                let e: anyhow::Error = e;
                tracing::error!(call = call.id, error = %format!("{e:#}"), "could not record a platform call's outcome");
                Outcome::Retry {
                    at: now + chrono::Duration::seconds(5),
                    limited: false,
                }
            }
        }
    }

    /// Claims the call for this replica, in a committed write, before it is made: `None` when
    /// another replica holds a live claim on it or it is no longer pending. The lease runs on
    /// the dispatcher's clock. On SQLite, whose file lock makes this the database's only
    /// process, there is nobody to claim it from: its state is read instead (a read, no
    /// COMMIT and no fsync per call).
    async fn claim(
        &self,
        call: &store::outbox::Pending,
    ) -> anyhow::Result<Option<(store::outbox::Claimed, Option<store::Incident>)>> {
        if self.store.backend() == store::Backend::Sqlite {
            // The call's state and its incident in one statement.
            let mut conn = self.store.read().await?;
            return match call.incident_id {
                Some(incident) => {
                    store::outbox::read_unclaimed_of(&mut conn, call.id, incident).await
                }
                None => Ok(store::outbox::read_unclaimed(&mut conn, call.id)
                    .await?
                    .map(|claimed| (claimed, None))),
            };
        }
        let mut tx = self.store.begin().await?;
        let now = self.clock.now();
        let until = crate::clock::after(now, self.lease());
        let took = store::outbox::claim(&mut tx, call.id, &self.owner, now, until).await?;
        tx.commit().await?;
        let Some(took) = took else {
            return Ok(None);
        };
        if call.incident_id.is_none() {
            return Ok(Some((took, None)));
        }
        let mut conn = self.store.read().await?;
        Ok(Some((took, incident_of(&mut conn, call).await?)))
    }

    /// Gives the claim back without finishing the call (its platform paused), so that any
    /// replica may make it once the token works.
    async fn release(&self, call: &store::outbox::Pending) {
        if self.store.backend() == store::Backend::Sqlite {
            return;
        }
        let released = async {
            let mut tx = self.store.begin().await?;
            store::outbox::release(&mut tx, call.id, &self.owner).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = released {
            tracing::warn!(call = call.id, error = %format!("{e:#}"), "could not release a claim; it lapses with its lease");
        }
    }
}

/// The incident `call` belongs to, if any.
async fn incident_of(
    conn: &mut store::Conn,
    call: &store::outbox::Pending,
) -> anyhow::Result<Option<store::Incident>> {
    match call.incident_id {
        Some(id) => store::incidents::get(conn, id).await,
        None => Ok(None),
    }
}

/// 1 s, 2 s, 4 s … capped at five minutes.
pub(super) fn backoff(attempts: i64) -> Duration {
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
}
