//! The console: the app on standard input and output, on the real clock or a virtual one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use klaxon_commands::{ChatApi, Invocation, PlatformKind, Reply};
use klaxon_console::{Console, ConsoleHost, Options};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::config::Config;
use crate::store::Store;

use super::App;
use super::serve::spawn_background;

/// How to run the console.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    pub user: String,
    pub channel: String,
    /// `Some(start)`: a clock that only moves with `:advance`.
    pub virtual_time: Option<DateTime<Utc>>,
    /// `KLAXON_HTTP_ADDR`: its port is where the console serves the pages, on 127.0.0.1.
    /// Unset, the pages are served on port 3000 when the console is interactive.
    pub http_addr: Option<String>,
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
    app.recover().await?;
    // Calls and reminders left due by an earlier run come first.
    app.settle().await?;
    // On the real clock, reminders fire by themselves while the console waits for input.
    let shutdown = CancellationToken::new();
    let tasks = app.tasks.clone();
    let background = manual
        .is_none()
        .then(|| spawn_background(&tasks, &app, &shutdown, Duration::from_secs(5)));
    let pages = match crate::web::console::addr(settings.http_addr.as_deref(), interactive) {
        Some(addr) => {
            let clock = Arc::clone(&app.clock);
            crate::web::console::serve(&console, &store, clock, addr, &shutdown, &tasks).await
        }
        None => None,
    };
    let host = ConsoleApp { app, manual };
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    console.run(&host, stdin, interactive).await?;
    shutdown.cancel();
    if let Some((scheduler, dispatcher)) = background {
        let _ = scheduler.await;
        let _ = dispatcher.await;
    }
    if let Some(pages) = pages {
        let _ = pages.await;
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
