//! The gateway: Discord pushes interactions over a WebSocket that serenity keeps open,
//! reconnecting and resuming after drops. `/inc` and "Add to timeline" are registered at
//! start-up with a bulk overwrite, so registering again changes nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use klaxon_commands::Handler;
use serenity::all::{
    ClientBuilder, Command, ConnectionStage, Context, EventHandler, GatewayIntents, GuildId, Http,
    Interaction, Ready, ResumedEvent, ShardManager, ShardStageUpdateEvent,
};

use crate::api::{self, RestSettings};
use crate::interaction::{Responder, SendFirst};

/// Where `/inc` is registered.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// `DISCORD_GUILD_IDS`: guilds to register in (instant).
    pub guilds: Vec<u64>,
    /// Register globally as well (takes up to an hour to show up everywhere).
    pub global: bool,
}

/// A running gateway connection.
pub struct Gateway {
    shards: Arc<ShardManager>,
    connected: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

struct Events {
    responder: Responder,
    connected: Arc<AtomicBool>,
}

#[async_trait]
impl EventHandler for Events {
    async fn ready(&self, _: Context, ready: Ready) {
        self.connected.store(true, Ordering::Relaxed);
        tracing::info!(guilds = ready.guilds.len(), "Discord gateway connected");
    }

    async fn resume(&self, _: Context, _: ResumedEvent) {
        self.connected.store(true, Ordering::Relaxed);
        tracing::info!("Discord gateway resumed");
    }

    async fn shard_stage_update(&self, _: Context, event: ShardStageUpdateEvent) {
        let up = event.new == ConnectionStage::Connected;
        self.connected.store(up, Ordering::Relaxed);
        if !up {
            tracing::info!(stage = %event.new, "Discord gateway not connected");
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let responder = self.responder.clone();
        let http = Arc::clone(&ctx.http);
        let id = interaction.id();
        let token = interaction.token().to_owned();
        let send_first: SendFirst = Box::new(move |response| {
            async move {
                http.create_interaction_response(id, &token, &response, Vec::new())
                    .await
                    .map_err(|e| e.to_string())
            }
            .boxed()
        });
        // Events are handled one at a time per shard: answer in the background.
        tokio::spawn(async move { responder.respond(interaction, send_first).await });
    }
}

/// Registers `/inc` and "Add to timeline" where configured.
pub async fn register(http: &Http, registration: &Registration) -> Result<(), String> {
    let commands = crate::register::commands();
    for guild in &registration.guilds {
        GuildId::new(*guild)
            .set_commands(http, commands.clone())
            .await
            .map_err(|e| format!("registering /inc in guild {guild}: {e}"))?;
        tracing::info!(guild, "registered /inc");
    }
    if registration.global {
        Command::set_global_commands(http, commands)
            .await
            .map_err(|e| format!("registering /inc globally: {e}"))?;
        tracing::info!("registered /inc globally");
    }
    Ok(())
}

impl Gateway {
    /// Registers the commands, then connects. `deadline`: how long to wait for the engine
    /// before deferring a response.
    pub async fn start(
        token: &str,
        rest: &RestSettings,
        registration: &Registration,
        handler: Arc<dyn Handler>,
        deadline: Duration,
    ) -> Result<Self, String> {
        let http = api::http(token, rest);
        if rest.application_id.is_none() {
            return Err("DISCORD_APPLICATION_ID is not set".to_owned());
        }
        register(&http, registration).await?;
        let connected = Arc::new(AtomicBool::new(false));
        let responder_http = Arc::new(api::http(token, rest));
        let events = Events {
            responder: Responder {
                handler,
                http: responder_http,
                deadline,
            },
            connected: Arc::clone(&connected),
        };
        let intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGE_REACTIONS;
        // The client gets its gateway URL from the REST API it is given: Discord's, or the
        // configured base URL's.
        let mut client = ClientBuilder::new_with_http(api::http(token, rest), intents)
            .event_handler(events)
            .await
            .map_err(|e| format!("starting the Discord client: {e}"))?;
        let shards = Arc::clone(&client.shard_manager);
        let task = tokio::spawn(async move {
            if let Err(e) = client.start().await {
                tracing::error!(error = %e, "Discord gateway stopped");
            }
        });
        Ok(Self {
            shards,
            connected,
            task,
        })
    }

    /// Whether the gateway is connected now.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// A shared flag that follows `connected`, for readiness checks.
    pub fn connected_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.connected)
    }

    pub async fn shutdown(self) {
        self.shards.shutdown_all().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}
