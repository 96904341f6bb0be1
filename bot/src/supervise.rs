//! Supervision of the background tasks: the long-lived ones (the scheduler, the dispatcher) are
//! started through [`Tasks::spawn`], the ones that end by themselves (a runbook action's
//! sending, which the engine hands over through its `Background` port) through [`Tasks::spawn_once`], so
//! none can die silently. This is the one place the bot spawns tasks.
//!
//! A task that panics is logged, counted (`klaxon_task_panics_total`) and started again after a
//! backoff (1 s, 2 s, 4 s … 30 s). While it is down, `/healthz` says so. A task that panics
//! [`MAX_PANICS`] times in a row (a run of a minute or more clears the count) is given up on:
//! [`Tasks::failed`] is cancelled, and `serve` stops the process with an error, so that systemd
//! (`Restart=on-failure`) starts a fresh one.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Panics in a row after which a task is given up on.
pub const MAX_PANICS: u32 = 5;

/// A run at least this long clears a task's panic count.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Longest wait before a restart.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

/// Where one supervised task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    /// Panicked; starting again after a pause.
    Restarting,
    /// Panicked [`MAX_PANICS`] times in a row: not started again.
    Failed,
    /// Returned normally (shutdown).
    Stopped,
}

/// The supervised tasks of one process. Cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    states: Arc<Mutex<BTreeMap<&'static str, State>>>,
    failed: CancellationToken,
    /// The first restart's delay (doubling up to [`MAX_RESTART_DELAY`]); tests shorten it.
    first_delay: Duration,
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
}

impl Tasks {
    pub fn new() -> Self {
        Self::with_first_delay(Duration::from_secs(1))
    }

    /// The same, restarting a panicked task after `first_delay` (doubling each time).
    pub fn with_first_delay(first_delay: Duration) -> Self {
        Self {
            states: Arc::new(Mutex::new(BTreeMap::new())),
            failed: CancellationToken::new(),
            first_delay,
        }
    }

    fn set(&self, name: &'static str, state: State) {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, state);
    }

    /// Runs `start()` as task `name`, and again after each panic, until it returns.
    pub fn spawn<F, Fut>(&self, name: &'static str, start: F) -> JoinHandle<()>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let tasks = self.clone();
        tasks.set(name, State::Running);
        tokio::spawn(async move {
            let mut panics = 0u32;
            loop {
                tasks.set(name, State::Running);
                let started = Instant::now();
                let outcome = tokio::spawn(start()).await;
                let panic = match outcome {
                    Ok(()) => {
                        tasks.set(name, State::Stopped);
                        return;
                    }
                    Err(e) if e.is_panic() => e.into_panic(),
                    Err(_) => {
                        tasks.set(name, State::Stopped);
                        return;
                    }
                };
                if started.elapsed() >= HEALTHY_RUN {
                    panics = 0;
                }
                panics += 1;
                crate::metrics::task_panicked(name);
                let message = panic_message(panic.as_ref());
                if panics >= MAX_PANICS {
                    tracing::error!(
                        task = name,
                        panic = %message,
                        panics,
                        "background task keeps panicking; giving up, the process stops"
                    );
                    tasks.set(name, State::Failed);
                    tasks.failed.cancel();
                    return;
                }
                let delay = tasks
                    .first_delay
                    .saturating_mul(1 << (panics - 1).min(16))
                    .min(MAX_RESTART_DELAY);
                tracing::error!(
                    task = name,
                    panic = %message,
                    panics,
                    restart_in = ?delay,
                    "background task panicked; restarting it"
                );
                tasks.set(name, State::Restarting);
                tokio::time::sleep(delay).await;
            }
        })
    }

    /// Runs `task`, which ends by itself, once: a panic is logged and counted like a
    /// long-lived task's, and it is not started again.
    pub fn spawn_once<Fut>(&self, name: &'static str, task: Fut) -> JoinHandle<()>
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(async move {
            if let Err(e) = tokio::spawn(task).await
                && e.is_panic()
            {
                crate::metrics::task_panicked(name);
                let message = panic_message(e.into_panic().as_ref());
                tracing::error!(task = name, panic = %message, "background task panicked");
            }
        })
    }

    /// The tasks that should be running and are not, with their state.
    pub fn down(&self) -> Vec<(&'static str, State)> {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, s)| matches!(s, State::Restarting | State::Failed))
            .map(|(n, s)| (*n, *s))
            .collect()
    }

    /// Cancelled when a task has been given up on.
    pub fn failed(&self) -> CancellationToken {
        self.failed.clone()
    }

    /// The task that was given up on, if any.
    pub fn failed_task(&self) -> Option<&'static str> {
        self.down()
            .into_iter()
            .find(|(_, s)| *s == State::Failed)
            .map(|(n, _)| n)
    }
}

/// A panic's message, when it has one.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn until(check: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        check()
    }

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_reported_down_meanwhile() {
        let tasks = Tasks::with_first_delay(Duration::from_millis(200));
        let runs = Arc::new(AtomicU32::new(0));
        let stop = CancellationToken::new();
        let handle = {
            let (runs, stop) = (Arc::clone(&runs), stop.clone());
            tasks.spawn("worker", move || {
                let (runs, stop) = (Arc::clone(&runs), stop.clone());
                async move {
                    if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                        panic!("DateTime + TimeDelta overflowed");
                    }
                    stop.cancelled().await;
                }
            })
        };
        assert!(until(|| tasks.down() == [("worker", State::Restarting)]).await);
        assert!(until(|| runs.load(Ordering::SeqCst) == 2).await);
        assert!(until(|| tasks.down().is_empty()).await);
        assert!(!tasks.failed().is_cancelled());
        stop.cancel();
        handle.await.expect("supervisor ends when the task returns");
        assert!(tasks.down().is_empty());
    }

    #[tokio::test]
    async fn a_task_that_ends_by_itself_runs_once_and_its_panic_is_contained() {
        let tasks = Tasks::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        tasks
            .spawn_once("runbook action", async move {
                counted.fetch_add(1, Ordering::SeqCst);
                panic!("the action's task panicked");
            })
            .await
            .expect("the supervisor itself does not panic");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(tasks.down().is_empty());
        assert!(!tasks.failed().is_cancelled());
    }

    #[tokio::test]
    async fn a_task_that_keeps_panicking_is_given_up_and_fails_the_process() {
        let tasks = Tasks::with_first_delay(Duration::from_millis(1));
        let handle = tasks.spawn("scheduler", || async { panic!("always") });
        handle.await.expect("supervisor gives up");
        assert!(tasks.failed().is_cancelled());
        assert_eq!(tasks.failed_task(), Some("scheduler"));
        assert_eq!(tasks.down(), [("scheduler", State::Failed)]);
    }
}
