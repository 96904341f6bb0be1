//! Wiring: a store, a clock, the engine, the outbox dispatcher and the adapters, as one app.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use klaxon_commands::{ChatApi, Invocation, PlatformKind, Reply};
use klaxon_console::{Console, ConsoleHost, Options};
use tokio::sync::Notify;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::Config;
use crate::engine::Engine;
use crate::outbox::Dispatcher;
use crate::store::Store;

/// The engine and the dispatcher that makes its platform calls.
pub struct App {
    pub engine: Arc<Engine>,
    pub dispatcher: Arc<Dispatcher>,
    pub store: Store,
}

impl App {
    /// Builds the app over an open store, with the given clock and platform APIs.
    pub fn new(
        store: Store,
        config: Config,
        clock: Arc<dyn Clock>,
        apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>>,
    ) -> Self {
        let wake = Arc::new(Notify::new());
        let engine = Arc::new(Engine::new(
            store.clone(),
            clock,
            Arc::new(config),
            Arc::clone(&wake),
        ));
        let dispatcher = Arc::new(Dispatcher::new(store.clone(), apis, wake));
        Self {
            engine,
            dispatcher,
            store,
        }
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
    let app = App::new(store.clone(), config, clock, apis);
    // Calls left pending by an earlier run are made first.
    app.dispatcher.drain().await?;
    let host = ConsoleApp { app, manual };
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    console.run(&host, stdin, interactive).await?;
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
        if let Err(e) = self.app.dispatcher.drain().await {
            tracing::error!(error = %format!("{e:#}"), "could not make platform calls");
        }
    }

    async fn advance(&self, by: Duration) -> Result<String, String> {
        match &self.manual {
            Some(clock) => Ok(crate::clock::long(clock.advance(by))),
            None => Err(
                "time is real here: start with `klaxon console --virtual-time` to move it".into(),
            ),
        }
    }
}
