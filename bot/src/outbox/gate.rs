//! A call's turn at the platform: [`Dispatcher::send`] waits at the call's rate-limit bucket
//! until the bucket's older calls have been answered ([`super::bucket`]), then makes the
//! request within the call timeout, which starts only once the call's turn has come: a call
//! queued behind a slow one is not timed out for waiting.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use klaxon_commands::ApiError;

use super::bucket::Pass;
use super::record::backoff;
use super::{Dispatcher, Failure, MAX_RETRY_AFTER};
use crate::store::outbox::Pending;

/// Longest a call waits at its bucket's gate (when the call timeout is longer). Past it the
/// call gives up its turn without being sent, and its bucket goes one call at a time until
/// it drains: the wait stays well inside a claim's lease on PostgreSQL.
const GATE_WAIT: Duration = Duration::from_secs(10);

impl Dispatcher {
    /// Makes `request`, call `call`'s request to the platform, in its turn at its bucket and
    /// within the call timeout. [`Failure::NotSent`] when the turn did not come: the bucket
    /// was paused by a 429 meanwhile, or the wait passed its limit.
    pub(super) async fn send<T>(
        &self,
        call: &Pending,
        request: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, Failure> {
        let limit = tokio::time::Instant::now() + GATE_WAIT.min(self.call_timeout);
        loop {
            let turn = self.gate.notified();
            tokio::pin!(turn);
            turn.as_mut().enable();
            match self.buckets().pass(call.id, Utc::now()) {
                Pass::Go => break,
                Pass::Paused => return Err(Failure::NotSent),
                Pass::Wait => {}
            }
            if tokio::time::timeout_at(limit, turn).await.is_err() {
                self.buckets().withdraw(call.id);
                self.gate.notify_waiters();
                tracing::debug!(
                    call = call.id,
                    "no turn at the bucket in time; the call goes back to its lane"
                );
                return Err(Failure::NotSent);
            }
        }
        let answer = self.timed(request).await;
        match &answer {
            Err(e) if e.is_rate_limit() => {
                let wait = match e {
                    ApiError::Transient {
                        retry_after: Some(w),
                        ..
                    } => (*w).min(MAX_RETRY_AFTER),
                    _ => backoff(call.attempts),
                };
                self.buckets()
                    .limited(call.id, crate::clock::after(Utc::now(), wait));
            }
            _ => {
                if self.buckets().release(call.id) {
                    self.released.notify_one();
                }
            }
        }
        self.gate.notify_waiters();
        Ok(answer?)
    }

    /// Longest one attempt of a call may take: two requests' call timeouts and a wait at the
    /// gate, with the database's waits in between.
    pub(super) fn attempt_limit(&self) -> Duration {
        self.call_timeout * 2 + GATE_WAIT.min(self.call_timeout)
    }

    /// Makes a request to the platform within the call timeout.
    pub(super) async fn timed<T>(
        &self,
        request: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        tokio::time::timeout(self.call_timeout, request)
            .await
            .unwrap_or_else(|_| {
                Err(ApiError::Transient {
                    reason: format!("no answer within {:?}", self.call_timeout),
                    retry_after: None,
                })
            })
    }
}
