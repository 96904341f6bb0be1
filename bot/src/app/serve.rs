//! Serving the configured platforms: the environment's combinations checked, the adapters
//! built, the background tasks started, the HTTP endpoints served until shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon_commands::{ChatApi, PlatformKind};
use tokio_util::sync::CancellationToken;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::store::Store;

use super::{App, PlatformSettings};

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
    let socket_connections = config.slack.socket_connections;
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
    // Claims are made under the replica's id, the one its lease and `/readyz` name.
    let app = App::new(store.clone(), config, clock, apis)?.with_owner(&settings.replica.id)?;
    app.recover().await?;
    let cancel = CancellationToken::new();
    let tasks = app.tasks.clone();
    let grace = settings.shutdown_grace;
    let (scheduler, mut dispatcher) = spawn_background(&tasks, &app, &cancel, grace);
    if let Some(url) = store.listen_url() {
        let wakeups = crate::wakeups::Wakeups {
            url: url.to_owned(),
            outbox: Arc::clone(&app.outbox_wake),
            scheduler: Arc::clone(&app.scheduler_wake),
            poll: settings.replica.poll,
        };
        let stop = cancel.clone();
        drop(tasks.spawn("wake-up listener", move || {
            wakeups.clone().run(stop.clone())
        }));
    }
    // Both Slack transports answer through the same edge.
    let slack_edge = slack_api.map(|api| klaxon_slack::Edge {
        handler: app.engine.clone(),
        api,
        capture_emoji,
        oncall: app.schedules.choices(),
    });
    let socket = match (&settings.slack_app_token, &slack_edge) {
        (Some(app_token), Some(edge)) => Some(
            klaxon_slack::SocketMode::start(
                app_token.expose_secret(),
                settings.slack_api_url.as_deref(),
                edge.clone(),
                socket_connections,
            )
            .await
            .map_err(|e| anyhow::anyhow!(e))?,
        ),
        _ => None,
    };
    let slack_endpoint = match (&settings.slack_signing_secret, slack_edge) {
        (Some(secret), Some(edge)) => Some(Arc::new(klaxon_slack::Endpoint::new(
            secret.expose_secret(),
            edge,
        ))),
        _ => None,
    };
    // The gateway runs on the replica that holds its lease (on SQLite, the only process).
    let discord = match &settings.discord_token {
        Some(token) => {
            let leader = crate::leader::Leader::new(
                &store,
                crate::leader::DISCORD_GATEWAY,
                &settings.replica.id,
                settings.replica.lease,
            );
            leader.try_once().await;
            let gateway = crate::gateway::LedGateway::new(
                leader,
                crate::gateway::GatewayStart {
                    token: token.clone(),
                    rest: settings.discord_rest(),
                    registration: klaxon_discord::Registration {
                        guilds: settings.discord_guild_ids.clone(),
                        global: settings.discord_global_commands,
                        capture_emoji: discord_capture.clone(),
                    },
                    handler: app.engine.clone(),
                    deadline: settings.discord_defer_after,
                },
            );
            // Renewed from now on, so a slow first start does not let the lease expire.
            let lease = spawn_lease(&tasks, gateway.leader());
            if let Err(e) = gateway.start_if_leading().await {
                lease.0.cancel();
                return Err(e);
            }
            Some((gateway, lease))
        }
        None => None,
    };
    let (discord, led) = match discord {
        Some((gateway, lease)) => {
            let led = spawn_gateway(&tasks, &gateway, lease);
            (Some(gateway), Some(led))
        }
        None => (None, None),
    };
    let discord_endpoint = match (&settings.discord_public_key, &settings.discord_token) {
        (Some(key), Some(token)) => Some(Arc::new(
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
        )),
        _ => None,
    };
    let state = Arc::new(crate::http::HttpState {
        engine: Arc::clone(&app.engine),
        store: store.clone(),
        slack_endpoint,
        slack_socket: socket.as_ref().map(klaxon_slack::SocketMode::live_count),
        discord_gateway: discord.clone(),
        replica: settings.replica.id.clone(),
        discord_endpoint,
        alerts: crate::alerts::http::Intake {
            token: settings.alerts_token.clone(),
            platforms,
        },
        outbox: Arc::clone(&app.dispatcher),
        tasks: tasks.clone(),
        web,
        schedules: Arc::clone(&app.schedules),
        clock: Arc::clone(&app.clock),
        feeds: settings.feed_secret.clone().map(|secret| {
            Arc::new(crate::feeds::FeedState {
                store: store.clone(),
                clock: Arc::clone(&app.clock),
                schedules: Arc::clone(&app.schedules),
                secret,
            })
        }),
    });
    // A background task given up on stops the process too, with an error (see `supervise`).
    let failed = tasks.failed();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = failed.cancelled() => {}
        }
    };
    // The peer's address is recorded for the pages' `[web] trusted_proxies`.
    let service =
        crate::http::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(stop)
        .await?;
    // No command is taken from here on; what is left gets the grace period, all of it.
    let deadline = tokio::time::Instant::now() + grace;
    tracing::info!(grace = ?grace, "shutting down: finishing platform calls");
    if let Some(socket) = &socket {
        socket.shutdown().await;
    }
    if let Some(led) = led {
        led.stop().await;
    }
    // Runbook actions in flight get the grace period to record their outcome; one still
    // running after it ends `unknown` at the next start.
    if tokio::time::timeout_at(deadline, app.engine.actions_idle())
        .await
        .is_err()
    {
        tracing::warn!(
            "runbook actions still in flight at shutdown; their outcome will be unknown"
        );
    }
    cancel.cancel();
    let _ = scheduler.await;
    // The dispatcher's last drain ends at the deadline at the latest: a call still pending (or
    // cut off in flight) stays queued and is made at the next start, once.
    if tokio::time::timeout_at(deadline, &mut dispatcher)
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?grace,
            "shutdown: platform calls still pending after the grace period; they are made at the next start"
        );
    }
    if tokio::time::timeout(CLOSE_WAIT, store.close())
        .await
        .is_err()
    {
        tracing::warn!(
            "shutdown: the database did not close in time; SQLite's journal keeps every commit"
        );
    }
    if let Some(task) = tasks.failed_task() {
        anyhow::bail!(
            "the {task} kept panicking (see the log); stopped so that a fresh process can start"
        );
    }
    Ok(())
}

/// How long the database may take to close at shutdown once the grace period is over.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Starts the scheduler and the dispatcher as supervised tasks (see [`crate::supervise`]).
pub(super) fn spawn_background(
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

/// The lease's renewal and the gateway that follows it, as supervised tasks.
struct Led {
    lease: (CancellationToken, tokio::task::JoinHandle<()>),
    gateway: (CancellationToken, tokio::task::JoinHandle<()>),
}

/// Renews `leader`'s lease until its token is cancelled (then releases it).
fn spawn_lease(
    tasks: &crate::supervise::Tasks,
    leader: &Arc<crate::leader::Leader>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let (leader, stop) = (Arc::clone(leader), CancellationToken::new());
    let handle = {
        let stop = stop.clone();
        tasks.spawn("leader lease", move || {
            Arc::clone(&leader).run(stop.clone())
        })
    };
    (stop, handle)
}

/// The gateway following its lease, beside the lease's renewal.
fn spawn_gateway(
    tasks: &crate::supervise::Tasks,
    gateway: &Arc<crate::gateway::LedGateway>,
    lease: (CancellationToken, tokio::task::JoinHandle<()>),
) -> Led {
    let (runner, halt) = (Arc::clone(gateway), CancellationToken::new());
    let handle = {
        let halt = halt.clone();
        tasks.spawn("discord gateway", move || {
            Arc::clone(&runner).run(halt.clone())
        })
    };
    Led {
        lease,
        gateway: (halt, handle),
    }
}

impl Led {
    /// Disconnects the gateway, then releases the lease so another replica takes it at once.
    async fn stop(self) {
        let (halt, gateway) = self.gateway;
        halt.cancel();
        let _ = gateway.await;
        let (stop, lease) = self.lease;
        stop.cancel();
        let _ = lease.await;
    }
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
