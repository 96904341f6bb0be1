//! The gateway: Discord pushes interactions over a WebSocket that serenity keeps open,
//! reconnecting and resuming after drops. `/inc` and "Add to timeline" are registered at
//! start-up with a bulk overwrite, so registering again changes nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::FutureExt as _;
use klaxon_commands::{
    ChannelEvent, EventKind, Handler, MessageRef, PlatformKind, Tenant, UserRef,
};
use serenity::all::{
    ChannelId, ClientBuilder, Command, ConnectionStage, Context, EventHandler, GatewayIntents,
    GuildId, Http, Interaction, Message, MessageId, MessageUpdateEvent, Reaction, ReactionType,
    Ready, ResumedEvent, ShardManager, ShardStageUpdateEvent,
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
    /// The reaction that puts a message on its incident's timeline (`📌`). Needs the message
    /// content intent (privileged: enable it in the developer portal); `None` keeps Klaxon on
    /// unprivileged intents, with "Add to timeline" only.
    pub capture_emoji: Option<String>,
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
    /// The reaction that puts a message on the timeline, when reaction capture is on.
    capture: Option<String>,
}

impl Events {
    fn wants(&self, reaction: &Reaction) -> bool {
        match (&self.capture, &reaction.emoji) {
            (Some(emoji), ReactionType::Unicode(got)) => got == emoji,
            _ => false,
        }
    }

    async fn record(&self, event: ChannelEvent) {
        if let Err(e) = self.responder.handler.event(event).await {
            tracing::warn!(error = %e, "could not record a Discord message event");
        }
    }

    fn reactor(reaction: &Reaction) -> Option<UserRef> {
        let id = reaction.user_id?;
        let name = reaction.member.as_ref().map(|m| {
            m.nick
                .clone()
                .unwrap_or_else(|| m.user.display_name().to_owned())
        });
        Some(match name {
            Some(name) => UserRef::named(id.to_string(), name),
            None => UserRef::id(id.to_string()),
        })
    }
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

    async fn reaction_add(&self, ctx: Context, reaction: Reaction) {
        let (Some(guild), Some(by)) = (reaction.guild_id, Self::reactor(&reaction)) else {
            return;
        };
        if !self.wants(&reaction) {
            return;
        }
        let message = match reaction
            .channel_id
            .message(&ctx.http, reaction.message_id)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a marked message");
                return;
            }
        };
        let guild = guild.to_string();
        self.record(ChannelEvent {
            tenant: Tenant::new(PlatformKind::Discord, &guild),
            channel_id: reaction.channel_id.to_string(),
            message: MessageRef(reaction.message_id.to_string()),
            event_id: None,
            kind: EventKind::Marked {
                by,
                message: crate::interaction::captured(&guild, &message),
            },
        })
        .await;
    }

    async fn reaction_remove(&self, _: Context, reaction: Reaction) {
        let (Some(guild), Some(by)) = (reaction.guild_id, Self::reactor(&reaction)) else {
            return;
        };
        if !self.wants(&reaction) {
            return;
        }
        self.record(ChannelEvent {
            tenant: Tenant::new(PlatformKind::Discord, guild.to_string()),
            channel_id: reaction.channel_id.to_string(),
            message: MessageRef(reaction.message_id.to_string()),
            event_id: None,
            kind: EventKind::Unmarked { by },
        })
        .await;
    }

    async fn message_update(
        &self,
        _: Context,
        _: Option<Message>,
        _: Option<Message>,
        event: MessageUpdateEvent,
    ) {
        let (Some(guild), Some(text)) = (event.guild_id, event.content) else {
            return;
        };
        if self.capture.is_none() {
            return;
        }
        let at = event
            .edited_timestamp
            .map_or_else(chrono::Utc::now, crate::interaction::utc);
        self.record(ChannelEvent {
            tenant: Tenant::new(PlatformKind::Discord, guild.to_string()),
            channel_id: event.channel_id.to_string(),
            message: MessageRef(event.id.to_string()),
            event_id: None,
            kind: EventKind::Edited { text, at },
        })
        .await;
    }

    async fn message_delete(
        &self,
        _: Context,
        channel: ChannelId,
        message: MessageId,
        guild: Option<GuildId>,
    ) {
        let Some(guild) = guild else { return };
        if self.capture.is_none() {
            return;
        }
        self.record(ChannelEvent {
            tenant: Tenant::new(PlatformKind::Discord, guild.to_string()),
            channel_id: channel.to_string(),
            message: MessageRef(message.to_string()),
            event_id: None,
            kind: EventKind::Deleted {
                at: chrono::Utc::now(),
            },
        })
        .await;
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
        if rest.application_id.is_none() {
            return Err("DISCORD_APPLICATION_ID is not set".to_owned());
        }
        let http = Arc::new(api::http(token, rest));
        register(&http, registration).await?;
        let connected = Arc::new(AtomicBool::new(false));
        let events = Events {
            responder: Responder {
                handler,
                http,
                deadline,
            },
            connected: Arc::clone(&connected),
            capture: registration.capture_emoji.clone(),
        };
        let mut intents = GatewayIntents::GUILDS;
        if registration.capture_emoji.is_some() {
            intents |= GatewayIntents::GUILD_MESSAGE_REACTIONS
                | GatewayIntents::GUILD_MESSAGES
                | GatewayIntents::MESSAGE_CONTENT;
        }
        // The client gets its gateway URL from the REST API it is given: Discord's, or the
        // configured base URL's.
        let mut client = ClientBuilder::new_with_http(api::http(token, rest), intents)
            .event_handler(events)
            .await
            .map_err(|e| format!("starting the Discord client: {e}"))?;
        let shards = Arc::clone(&client.shard_manager);
        let down = Arc::clone(&connected);
        let task = tokio::spawn(async move {
            // However the client ends (an error, or a panic inside serenity), it is logged and
            // `/readyz` stops saying the gateway is connected: it never vanishes silently.
            match std::panic::AssertUnwindSafe(client.start())
                .catch_unwind()
                .await
            {
                Ok(Ok(())) => tracing::info!("Discord gateway stopped"),
                Ok(Err(e)) => tracing::error!(error = %e, "Discord gateway stopped"),
                Err(_) => tracing::error!("Discord gateway panicked and stopped"),
            }
            down.store(false, Ordering::Relaxed);
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
