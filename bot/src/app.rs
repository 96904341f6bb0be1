//! Wiring: a store, a clock, the engine, the outbox dispatcher and the adapters, as one app.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use klaxon_commands::{ChatApi, Invocation, PlatformKind, Reply};
use klaxon_console::{Console, ConsoleHost, Options};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::Config;
use crate::engine::{Engine, Services};
use crate::outbox::Dispatcher;
use crate::runbooks::request::{EnvSecrets, Secrets};
use crate::scheduler::{Fired, Scheduler};
use crate::store::Store;

/// The engine, the scheduler that fires its reminders, and the dispatcher that makes its
/// platform calls.
pub struct App {
    pub engine: Arc<Engine>,
    pub scheduler: Arc<Scheduler>,
    pub dispatcher: Arc<Dispatcher>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
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
        let wake = Arc::new(Notify::new());
        let scheduler_wake = Arc::new(Notify::new());
        let (catalog, problems) = crate::runbooks::Catalog::load_dir(&config.runbooks.dir);
        for problem in &problems {
            tracing::warn!(%problem, "runbook not loaded");
        }
        let services = Arc::new(Services {
            renderer: crate::postmortem::Renderer::new(&config)?,
            catalog,
            secrets,
            http: reqwest::Client::builder()
                .user_agent(concat!("klaxon/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        });
        let config = Arc::new(config);
        let engine = Arc::new(Engine::new(
            store.clone(),
            Arc::clone(&clock),
            Arc::clone(&config),
            Arc::clone(&wake),
            Arc::clone(&scheduler_wake),
            services,
        ));
        let scheduler = Arc::new(Scheduler::new(
            store.clone(),
            Arc::clone(&clock),
            config,
            scheduler_wake,
            Arc::clone(&wake),
        ));
        let dispatcher = Arc::new(Dispatcher::new(store.clone(), apis, wake));
        Ok(Self {
            engine,
            scheduler,
            dispatcher,
            store,
            clock,
        })
    }

    /// Fires every due reminder and makes every due platform call.
    pub async fn settle(&self) -> anyhow::Result<Vec<Fired>> {
        let fired = self.scheduler.fire_due().await?;
        self.dispatcher.drain().await?;
        Ok(fired)
    }

    /// Moves a manual clock forward by `by`, stopping at each reminder due on the way, so that
    /// exactly what would fire in that much real time fires, in due order, at its due time.
    pub async fn advance(&self, clock: &ManualClock, by: Duration) -> anyhow::Result<Vec<Fired>> {
        let target = clock.now() + chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
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

/// How to run the console.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub user: String,
    pub channel: String,
    /// `Some(start)`: a clock that only moves with `:advance`.
    pub virtual_time: Option<DateTime<Utc>>,
}

/// Runs the console adapter on standard input and output until end of input.
pub async fn run_console(
    store: Store,
    config: Config,
    settings: ConsoleSettings,
) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;

    let interactive = std::io::stdin().is_terminal();
    let options = Options {
        user: settings.user,
        channel: settings.channel,
        interactive,
    };
    let console = Console::new(&options, Box::new(std::io::stdout()));
    console.add_channel(&config.incidents.paging_channel);
    let manual = settings.virtual_time.map(ManualClock::new);
    let clock: Arc<dyn Clock> = match &manual {
        Some(m) => Arc::new(m.clone()),
        None => Arc::new(SystemClock),
    };
    let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    apis.insert(PlatformKind::Console, Arc::new(console.clone()));
    let app = App::new(store.clone(), config, clock, apis)?;
    // Calls and reminders left due by an earlier run come first.
    app.settle().await?;
    // On the real clock, reminders fire by themselves while the console waits for input.
    let shutdown = CancellationToken::new();
    let background = manual.is_none().then(|| {
        (
            tokio::spawn(Arc::clone(&app.scheduler).run(shutdown.clone())),
            tokio::spawn(Arc::clone(&app.dispatcher).run(shutdown.clone(), Duration::from_secs(5))),
        )
    });
    let host = ConsoleApp { app, manual };
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    console.run(&host, stdin, interactive).await?;
    shutdown.cancel();
    if let Some((scheduler, dispatcher)) = background {
        let _ = scheduler.await;
        let _ = dispatcher.await;
    }
    host.settle().await;
    store.close().await;
    Ok(())
}

struct ConsoleApp {
    app: App,
    manual: Option<ManualClock>,
}

#[async_trait]
impl ConsoleHost for ConsoleApp {
    async fn handle(&self, invocation: Invocation) -> Reply {
        self.app.engine.handle(invocation).await
    }

    async fn settle(&self) {
        if let Err(e) = self.app.settle().await {
            tracing::error!(error = %format!("{e:#}"), "could not fire reminders or make platform calls");
        }
    }

    async fn advance(&self, by: Duration) -> Result<String, String> {
        let Some(clock) = &self.manual else {
            return Err(
                "time is real here: start with `klaxon console --virtual-time` to move it".into(),
            );
        };
        self.app
            .advance(clock, by)
            .await
            .map_err(|e| format!("internal error moving time: {e:#}"))?;
        Ok(crate::clock::long(clock.now()))
    }
}
