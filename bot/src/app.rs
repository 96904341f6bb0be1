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
            schedules,
            scheduler_wake,
            Arc::clone(&wake),
        ));
        let dispatcher = Arc::new(
            Dispatcher::new(store.clone(), apis, wake)
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
        })
    }

    /// At start-up, before taking commands: runbook actions an earlier process was sending
    /// when it stopped end `unknown` (and their channels are told); none is sent again.
    pub async fn recover(&self) -> anyhow::Result<()> {
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
            crate::web::console::serve(&console, &store, Arc::clone(&app.clock), addr, &shutdown)
                .await
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

/// How to reach the chat platforms, from the environment (standard Slack names).
#[derive(Clone)]
pub struct PlatformSettings {
    /// `SLACK_BOT_TOKEN` (xoxb-…).
    pub slack_bot_token: Option<secrecy::SecretString>,
    /// `SLACK_SIGNING_SECRET`: enables HTTP mode (`POST /slack/commands`).
    pub slack_signing_secret: Option<secrecy::SecretString>,
    /// `SLACK_APP_TOKEN` (xapp-…): enables Socket Mode, the default transport.
    pub slack_app_token: Option<secrecy::SecretString>,
    /// `SLACK_API_URL`: another Web API base URL, for tests and proxies.
    pub slack_api_url: Option<String>,
    /// `DISCORD_TOKEN`: the bot token; enables Discord over the gateway.
    pub discord_token: Option<secrecy::SecretString>,
    /// `DISCORD_APPLICATION_ID`: needed to register `/inc` and answer interactions.
    pub discord_application_id: Option<u64>,
    /// `DISCORD_GUILD_IDS`: comma-separated guilds to register `/inc` in (instant).
    pub discord_guild_ids: Vec<u64>,
    /// `DISCORD_GLOBAL_COMMANDS=1`: also register `/inc` globally.
    pub discord_global_commands: bool,
    /// `DISCORD_PUBLIC_KEY`: enables `POST /discord/interactions` (Ed25519-signed).
    pub discord_public_key: Option<String>,
    /// `DISCORD_API_URL`: another REST base URL, for tests and proxies (the gateway URL then
    /// comes from it too).
    pub discord_api_url: Option<String>,
    /// How long an interaction waits for the engine before it is deferred.
    pub discord_defer_after: Duration,
    /// `KLAXON_HTTP_ADDR`, default `127.0.0.1:3000`.
    pub http_addr: String,
    /// `KLAXON_ALERTS_TOKEN`: the bearer token of `POST /alerts/*`; unset, alert intake is off.
    pub alerts_token: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for PlatformSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSettings")
            .field(
                "slack_bot_token",
                &self.slack_bot_token.as_ref().map(|_| "<set>"),
            )
            .field(
                "slack_signing_secret",
                &self.slack_signing_secret.as_ref().map(|_| "<set>"),
            )
            .field(
                "slack_app_token",
                &self.slack_app_token.as_ref().map(|_| "<set>"),
            )
            .field("slack_api_url", &self.slack_api_url)
            .field(
                "discord_token",
                &self.discord_token.as_ref().map(|_| "<set>"),
            )
            .field("discord_application_id", &self.discord_application_id)
            .field("discord_guild_ids", &self.discord_guild_ids)
            .field("discord_global_commands", &self.discord_global_commands)
            .field("discord_public_key", &self.discord_public_key)
            .field("discord_api_url", &self.discord_api_url)
            .field("http_addr", &self.http_addr)
            .field("alerts_token", &self.alerts_token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Default for PlatformSettings {
    fn default() -> Self {
        Self {
            slack_bot_token: None,
            slack_signing_secret: None,
            slack_app_token: None,
            slack_api_url: None,
            discord_token: None,
            discord_application_id: None,
            discord_guild_ids: Vec::new(),
            discord_global_commands: false,
            discord_public_key: None,
            discord_api_url: None,
            discord_defer_after: Duration::from_millis(1500),
            http_addr: "127.0.0.1:3000".to_owned(),
            alerts_token: None,
        }
    }
}

impl PlatformSettings {
    /// Reads the environment; a malformed id is an error naming the variable.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let secret = |name: &str| var(name).map(secrecy::SecretString::from);
        let id = |name: &str, v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| anyhow::anyhow!("{name}: `{v}` is not a Discord id"))
        };
        let discord_application_id = var("DISCORD_APPLICATION_ID")
            .map(|v| id("DISCORD_APPLICATION_ID", &v))
            .transpose()?;
        let discord_guild_ids = var("DISCORD_GUILD_IDS")
            .map(|v| {
                v.split(',')
                    .filter(|g| !g.trim().is_empty())
                    .map(|g| id("DISCORD_GUILD_IDS", g))
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            slack_bot_token: secret("SLACK_BOT_TOKEN"),
            slack_signing_secret: secret("SLACK_SIGNING_SECRET"),
            slack_app_token: secret("SLACK_APP_TOKEN"),
            slack_api_url: var("SLACK_API_URL"),
            discord_token: secret("DISCORD_TOKEN"),
            discord_application_id,
            discord_guild_ids,
            discord_global_commands: var("DISCORD_GLOBAL_COMMANDS")
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes")),
            discord_public_key: var("DISCORD_PUBLIC_KEY"),
            discord_api_url: var("DISCORD_API_URL"),
            discord_defer_after: Duration::from_millis(1500),
            http_addr: var("KLAXON_HTTP_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned()),
            alerts_token: secret("KLAXON_ALERTS_TOKEN"),
        })
    }

    /// Whether any platform is configured (otherwise `klaxon run` runs the console).
    pub fn any(&self) -> bool {
        self.slack_bot_token.is_some()
            || self.slack_app_token.is_some()
            || self.slack_signing_secret.is_some()
            || self.discord_token.is_some()
            || self.discord_public_key.is_some()
    }

    pub(crate) fn discord_rest(&self) -> klaxon_discord::RestSettings {
        klaxon_discord::RestSettings {
            api_url: self.discord_api_url.clone(),
            application_id: self.discord_application_id,
        }
    }
}

/// Runs every configured platform until Ctrl-C or SIGTERM.
pub async fn run_platforms(
    store: Store,
    config: Config,
    settings: PlatformSettings,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&settings.http_addr)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {}: {e}", settings.http_addr))?;
    tracing::info!(addr = %settings.http_addr, "HTTP endpoints listening");
    serve(store, config, settings, listener, shutdown_signal()).await
}

/// Serves the platforms on `listener` until `shutdown` completes, then stops taking requests,
/// makes the pending platform calls (within a grace period) and closes the database.
pub async fn serve(
    store: Store,
    config: Config,
    settings: PlatformSettings,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_clock(
        store,
        config,
        settings,
        listener,
        shutdown,
        Arc::new(SystemClock),
    )
    .await
}

/// Where Discord incident channels go, by guild, from `[discord]` and its guild tables: the
/// incidents category and the archive category.
pub fn discord_channel_settings(config: &Config) -> klaxon_discord::ChannelSettings {
    let id = |c: Option<&str>| c.and_then(|c| c.parse::<u64>().ok());
    let d = &config.discord;
    let per_guild = |key: fn(&crate::config::GuildConfig) -> Option<&str>| {
        d.guilds
            .iter()
            .filter_map(|(guild, g)| Some((guild.parse::<u64>().ok()?, id(key(g))?)))
            .collect()
    };
    klaxon_discord::ChannelSettings {
        category: id(d.category.as_deref()),
        guilds: per_guild(|g| g.category.as_deref()),
        archive: id(d.archive_category.as_deref()),
        archive_guilds: per_guild(|g| g.archive_category.as_deref()),
    }
}

/// [`serve`] with another clock (tests use a manual one).
pub async fn serve_with_clock(
    store: Store,
    config: Config,
    settings: PlatformSettings,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    use secrecy::ExposeSecret as _;

    let mut config = config;
    let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    let transport = settings.slack_signing_secret.is_some() || settings.slack_app_token.is_some();
    let slack_api = match &settings.slack_bot_token {
        Some(token) if transport => {
            let api = klaxon_slack::SlackApi::new(
                token.expose_secret(),
                settings.slack_api_url.as_deref(),
            );
            crate::slack_setup::resolve(&mut config, &api).await?;
            apis.insert(PlatformKind::Slack, Arc::new(api.clone()));
            Some(api)
        }
        Some(_) => anyhow::bail!(
            "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP) is"
        ),
        None if transport => {
            anyhow::bail!(
                "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not"
            )
        }
        None => None,
    };
    match &settings.discord_token {
        Some(token) => {
            anyhow::ensure!(
                settings.discord_application_id.is_some(),
                "DISCORD_TOKEN is set but DISCORD_APPLICATION_ID is not"
            );
            let every_guild_has_one = !config.discord.guilds.is_empty()
                && config
                    .discord
                    .guilds
                    .values()
                    .all(|g| g.paging_channel.is_some());
            anyhow::ensure!(
                config.discord.paging_channel.is_some()
                    || every_guild_has_one
                    || config
                        .incidents
                        .paging_channel
                        .bytes()
                        .all(|b| b.is_ascii_digit()),
                "Discord needs the paging channel's id: set [discord] paging_channel (or each \
                 [discord.guilds.\"<guild id>\"] paging_channel) in klaxon.toml"
            );
            let http = Arc::new(klaxon_discord::api::http(
                token.expose_secret(),
                &settings.discord_rest(),
            ));
            apis.insert(
                PlatformKind::Discord,
                Arc::new(klaxon_discord::DiscordApi::new(
                    http,
                    discord_channel_settings(&config),
                )),
            );
        }
        None if settings.discord_public_key.is_some() => {
            anyhow::bail!("DISCORD_PUBLIC_KEY is set but DISCORD_TOKEN is not")
        }
        None => {}
    }
    let platforms: std::collections::BTreeSet<PlatformKind> = apis.keys().copied().collect();
    for route in &config.alerts.routes {
        for target in route
            .targets
            .iter()
            .filter(|t| !platforms.contains(&t.platform))
        {
            tracing::warn!(
                route = route.name.as_deref().unwrap_or("(unnamed)"),
                platform = %target.platform,
                "an alert route names a platform that is not configured; its alerts skip it"
            );
        }
    }
    anyhow::ensure!(!apis.is_empty(), "no platform is configured");
    let discord_capture = config.discord.capture_emoji.clone();
    let capture_emoji = config.slack.capture_emoji.clone();
    let web = config
        .web
        .enabled
        .then(|| {
            crate::web::WebState::new(
                store.clone(),
                Arc::clone(&clock),
                crate::web::Access::configured(&config.web),
            )
        })
        .transpose()?
        .map(Arc::new);
    let app = App::new(store.clone(), config, clock, apis)?;
    app.recover().await?;
    let cancel = CancellationToken::new();
    let tasks = app.tasks.clone();
    let (scheduler, dispatcher) = spawn_background(&tasks, &app, &cancel, Duration::from_secs(10));
    let socket = match (&settings.slack_app_token, &slack_api) {
        (Some(app_token), Some(slack_api)) => {
            let handler: Arc<dyn klaxon_commands::Handler> = app.engine.clone();
            Some(
                klaxon_slack::SocketMode::start(
                    app_token.expose_secret(),
                    settings.slack_api_url.as_deref(),
                    handler,
                    slack_api.clone(),
                    capture_emoji.clone(),
                )
                .await
                .map_err(|e| anyhow::anyhow!(e))?,
            )
        }
        _ => None,
    };
    let discord = match &settings.discord_token {
        Some(token) => Some(
            klaxon_discord::Gateway::start(
                token.expose_secret(),
                &settings.discord_rest(),
                &klaxon_discord::Registration {
                    guilds: settings.discord_guild_ids.clone(),
                    global: settings.discord_global_commands,
                    capture_emoji: discord_capture.clone(),
                },
                app.engine.clone(),
                settings.discord_defer_after,
            )
            .await
            .map_err(|e| anyhow::anyhow!(e))?,
        ),
        None => None,
    };
    let discord_endpoint = match (&settings.discord_public_key, &settings.discord_token) {
        (Some(key), Some(token)) => Some(
            klaxon_discord::Endpoint::new(
                key,
                klaxon_discord::Responder {
                    handler: app.engine.clone(),
                    http: Arc::new(klaxon_discord::api::http(
                        token.expose_secret(),
                        &settings.discord_rest(),
                    )),
                    deadline: settings.discord_defer_after,
                },
            )
            .map_err(|e| anyhow::anyhow!(e))?,
        ),
        _ => None,
    };
    let state = Arc::new(crate::http::HttpState {
        engine: Arc::clone(&app.engine),
        store: store.clone(),
        slack_signing_secret: settings.slack_signing_secret.clone(),
        slack_api,
        slack_capture_emoji: capture_emoji,
        slack_socket: socket
            .as_ref()
            .map(klaxon_slack::SocketMode::connected_flag),
        discord_gateway: discord
            .as_ref()
            .map(klaxon_discord::Gateway::connected_flag),
        discord_endpoint,
        alerts: crate::alerts::http::Intake {
            token: settings.alerts_token.clone(),
            platforms,
        },
        outbox: Arc::clone(&app.dispatcher),
        tasks: tasks.clone(),
        web,
    });
    // A background task given up on stops the process too, with an error (see `supervise`).
    let failed = tasks.failed();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = failed.cancelled() => {}
        }
    };
    axum::serve(listener, crate::http::router(state))
        .with_graceful_shutdown(stop)
        .await?;
    tracing::info!("shutting down: finishing platform calls");
    if let Some(socket) = &socket {
        socket.shutdown().await;
    }
    if let Some(discord) = discord {
        discord.shutdown().await;
    }
    // Runbook actions in flight get a grace period to record their outcome; one still
    // running after it ends `unknown` at the next start.
    if tokio::time::timeout(Duration::from_secs(10), app.engine.actions_idle())
        .await
        .is_err()
    {
        tracing::warn!(
            "runbook actions still in flight at shutdown; their outcome will be unknown"
        );
    }
    cancel.cancel();
    let _ = scheduler.await;
    let _ = dispatcher.await;
    store.close().await;
    if let Some(task) = tasks.failed_task() {
        anyhow::bail!(
            "the {task} kept panicking (see the log); stopped so that a fresh process can start"
        );
    }
    Ok(())
}

/// Starts the scheduler and the dispatcher as supervised tasks (see [`crate::supervise`]).
fn spawn_background(
    tasks: &crate::supervise::Tasks,
    app: &App,
    cancel: &CancellationToken,
    grace: Duration,
) -> (tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>) {
    let (scheduler, stop) = (Arc::clone(&app.scheduler), cancel.clone());
    let scheduler = tasks.spawn("scheduler", move || {
        Arc::clone(&scheduler).run(stop.clone())
    });
    let (dispatcher, stop) = (Arc::clone(&app.dispatcher), cancel.clone());
    let dispatcher = tasks.spawn("dispatcher", move || {
        Arc::clone(&dispatcher).run(stop.clone(), grace)
    });
    (scheduler, dispatcher)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
