//! Wiring: a store, a clock, the engine, the outbox dispatcher and the adapters, as one app.
//!
//! `mod.rs` builds the [`App`]; `console.rs` runs it on a terminal, `settings.rs` reads the
//! platforms' settings from the environment, and `serve.rs` runs it on the platforms.

mod console;
mod serve;
mod settings;

pub use console::{ConsoleSettings, run_console};
pub use serve::{discord_channel_settings, run_platforms, serve, serve_with_clock};
pub use settings::{PlatformSettings, ReplicaSettings};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon_commands::{ChatApi, PlatformKind};
use tokio::sync::Notify;

use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::engine::{Engine, Services};
use crate::outbox::Dispatcher;
use crate::runbooks::allow::{Resolve, SystemResolver};
use crate::runbooks::request::{EnvSecrets, Secrets};
use crate::scheduler::{Fired, Scheduler};
use crate::store::Store;

/// Where runbook actions get their secrets and resolve their hosts: the environment
/// (`KLAXON_SECRET_*`) and the system resolver in production.
pub struct RunbookIo {
    pub secrets: Arc<dyn Secrets>,
    pub resolver: Arc<dyn Resolve>,
}

/// The engine, the scheduler that fires its reminders, the dispatcher that makes its
/// platform calls, and the supervised tasks they all run in.
pub struct App {
    pub engine: Arc<Engine>,
    pub scheduler: Arc<Scheduler>,
    pub dispatcher: Arc<Dispatcher>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub tasks: crate::supervise::Tasks,
    /// The on-call schedules loaded at start (escalation, `/inc oncall`, the calendar feeds).
    pub schedules: Arc<crate::oncall::Schedules>,
    /// Wakes the dispatcher (platform calls were queued) and the scheduler (reminders
    /// changed): the engine's, and other replicas' through [`crate::wakeups`].
    pub outbox_wake: Arc<Notify>,
    pub scheduler_wake: Arc<Notify>,
}

impl App {
    /// Builds the app over an open store, with the given clock and platform APIs.
    pub fn new(
        store: Store,
        config: Config,
        clock: Arc<dyn Clock>,
        apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>>,
    ) -> anyhow::Result<Self> {
        Self::with_secrets(store, config, clock, apis, Arc::new(EnvSecrets))
    }

    /// The same, with secrets for runbook actions from somewhere other than the environment.
    pub fn with_secrets(
        store: Store,
        config: Config,
        clock: Arc<dyn Clock>,
        apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>>,
        secrets: Arc<dyn Secrets>,
    ) -> anyhow::Result<Self> {
        let io = RunbookIo {
            secrets,
            resolver: Arc::new(SystemResolver),
        };
        Self::with_runbook_io(store, config, clock, apis, io)
    }

    /// The same, with both the secrets and the name resolver of runbook actions given.
    pub fn with_runbook_io(
        store: Store,
        config: Config,
        clock: Arc<dyn Clock>,
        apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>>,
        runbook_io: RunbookIo,
    ) -> anyhow::Result<Self> {
        let wake = Arc::new(Notify::new());
        let scheduler_wake = Arc::new(Notify::new());
        let (catalog, problems) = crate::runbooks::Catalog::load_dir(&config.runbooks.dir);
        for problem in &problems {
            tracing::warn!(%problem, "runbook not loaded");
        }
        let (schedules, problems) = crate::oncall::Schedules::load_dir(&config.oncall.dir);
        for problem in &problems {
            tracing::warn!(%problem, "on-call schedule not loaded");
        }
        let tier_problems = schedules.tier_problems(&config);
        anyhow::ensure!(
            tier_problems.is_empty(),
            "escalation tiers name schedule layers that are not loaded from {}:\n{}",
            config.oncall.dir.display(),
            tier_problems.join("\n")
        );
        let schedules = Arc::new(schedules);
        let services = Arc::new(Services {
            renderer: crate::engine::postmortem::Renderer::new(&config)?,
            catalog,
            schedules: Arc::clone(&schedules),
            secrets: runbook_io.secrets,
            resolver: runbook_io.resolver,
        });
        let debounce = Duration::from_millis(config.slack.announcement_debounce_ms);
        let discord_debounce = Duration::from_millis(config.discord.announcement_debounce_ms);
        let config = Arc::new(config);
        let tasks = crate::supervise::Tasks::new();
        let engine = Arc::new(Engine::new(
            store.clone(),
            Arc::clone(&clock),
            Arc::clone(&config),
            Arc::clone(&wake),
            Arc::clone(&scheduler_wake),
            services,
            Arc::new(tasks.clone()),
        ));
        let scheduler = Arc::new(Scheduler::new(
            store.clone(),
            Arc::clone(&clock),
            config,
            Arc::clone(&schedules),
            Arc::clone(&scheduler_wake),
            Arc::clone(&wake),
        ));
        let dispatcher = Arc::new(
            Dispatcher::new(store.clone(), apis, Arc::clone(&wake))
                .with_clock(Arc::clone(&clock))
                .with_debounce(Arc::clone(&clock), PlatformKind::Slack, debounce)
                .with_debounce(Arc::clone(&clock), PlatformKind::Discord, discord_debounce),
        );
        Ok(Self {
            engine,
            scheduler,
            dispatcher,
            store,
            clock,
            tasks,
            schedules,
            outbox_wake: wake,
            scheduler_wake,
        })
    }

    /// The same app with its dispatcher claiming platform calls as `owner` rather than as this
    /// process's replica id ([`crate::replica::id`]): for tests that run two replicas in one
    /// process. Call it before anything else holds the dispatcher.
    pub fn with_owner(mut self, owner: &str) -> anyhow::Result<Self> {
        let dispatcher = Arc::into_inner(self.dispatcher)
            .ok_or_else(|| anyhow::anyhow!("the dispatcher is already shared"))?;
        self.dispatcher = Arc::new(dispatcher.with_owner(owner));
        Ok(self)
    }

    /// At start-up, before taking commands: runbook actions an earlier process was sending
    /// when it stopped end `unknown` (and their channels are told); none is sent again. On
    /// SQLite, whose file lock makes this the only process, the platform calls an earlier one
    /// had claimed are free at once (on PostgreSQL they wait for their leases, unless this
    /// process has the same replica id: [`crate::replica::VARIABLE`]).
    pub async fn recover(&self) -> anyhow::Result<()> {
        if self.store.backend() == crate::store::Backend::Sqlite {
            let mut tx = self.store.begin().await?;
            let released = crate::store::outbox::release_all(&mut tx).await?;
            tx.commit().await?;
            if released > 0 {
                tracing::info!(
                    calls = released,
                    "platform calls the last process was making are taken up again"
                );
            }
        }
        let n = self.engine.recover_interrupted_actions().await?;
        if n > 0 {
            tracing::warn!(
                runs = n,
                "runbook actions cut off by the last stop are marked unknown"
            );
        }
        Ok(())
    }

    /// Waits for runbook actions in flight, fires every due reminder and makes every due
    /// platform call.
    pub async fn settle(&self) -> anyhow::Result<Vec<Fired>> {
        self.engine.actions_idle().await;
        self.scheduler.prune_if_due().await?;
        let fired = self.scheduler.fire_due().await?;
        self.dispatcher.drain().await?;
        Ok(fired)
    }

    /// Moves a manual clock forward by `by`, stopping at each reminder due on the way, so that
    /// exactly what would fire in that much real time fires, in due order, at its due time.
    pub async fn advance(&self, clock: &ManualClock, by: Duration) -> anyhow::Result<Vec<Fired>> {
        let target = crate::clock::after(clock.now(), by);
        let mut fired = self.settle().await?;
        while let Some(due) = self
            .scheduler
            .next_due()
            .await?
            .filter(|due| *due <= target)
        {
            if due > clock.now() {
                clock.set(due);
            }
            fired.extend(self.settle().await?);
        }
        clock.set(target);
        fired.extend(self.settle().await?);
        Ok(fired)
    }
}

/// The engine's background work runs as supervised tasks (`supervise` stays below the
/// engine's imports: the outbox uses it).
impl crate::engine::Background for crate::supervise::Tasks {
    fn run(
        &self,
        name: &'static str,
        task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    ) {
        self.spawn_once(name, task);
    }
}
