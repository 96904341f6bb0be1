//! Klaxon's platform calls as Discord REST calls, through serenity's `Http`.
//!
//! In production serenity's rate limiter is on: a 429 is waited out inside serenity and the call
//! goes through. With `DISCORD_API_URL` (tests, or an HTTP proxy that rate-limits for several
//! processes) requests go to that base URL and serenity's limiter is off, as serenity requires;
//! a 429 or 5xx then comes back as a transient error and the outbox retries it later.

use std::sync::Arc;

use async_trait::async_trait;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Message, MessageRef, NewChannel, Posted, Rich, Upload, UserRef,
};
use serenity::all::{
    ChannelId, ChannelType, CreateAttachment, CreateChannel, CreateMessage, EditChannel,
    EditMessage, GuildId, Http, HttpBuilder, MessageId, PermissionOverwrite,
    PermissionOverwriteType, Permissions, RoleId, UserId,
};
use tokio::sync::OnceCell;

use crate::markdown::{self, Mentions, is_snowflake};

/// Longest channel topic Discord accepts.
const TOPIC_LIMIT: usize = 1024;

/// How to reach Discord's REST API.
#[derive(Debug, Clone, Default)]
pub struct RestSettings {
    /// `DISCORD_API_URL`: another base URL (a fake in tests, or a rate-limiting proxy).
    pub api_url: Option<String>,
    /// `DISCORD_APPLICATION_ID`, needed to answer interactions.
    pub application_id: Option<u64>,
}

/// Builds serenity's HTTP client: Discord with serenity's rate limiter, or `api_url` without it.
pub fn http(token: &str, settings: &RestSettings) -> Http {
    let mut builder =
        HttpBuilder::new(token).default_allowed_mentions(Mentions::default().allowed());
    if let Some(id) = settings.application_id {
        builder = builder.application_id(id.into());
    }
    if let Some(url) = &settings.api_url {
        builder = builder
            .proxy(url.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    builder.build()
}

/// Where incident channels go.
#[derive(Debug, Clone, Default)]
pub struct ChannelSettings {
    /// The category incident channels are created under.
    pub category: Option<u64>,
}

/// The Discord side of [`ChatApi`].
pub struct DiscordApi {
    http: Arc<Http>,
    settings: ChannelSettings,
    /// The bot's own user id, so a private channel stays visible to it.
    me: OnceCell<UserId>,
}

impl DiscordApi {
    pub fn new(http: Arc<Http>, settings: ChannelSettings) -> Self {
        Self {
            http,
            settings,
            me: OnceCell::new(),
        }
    }

    async fn me(&self) -> Result<UserId, ApiError> {
        self.me
            .get_or_try_init(|| async {
                self.http
                    .get_current_user()
                    .await
                    .map(|u| u.id)
                    .map_err(api_error)
            })
            .await
            .copied()
    }
}

/// What people added to an incident channel may do there.
fn responder() -> Permissions {
    Permissions::VIEW_CHANNEL
        | Permissions::SEND_MESSAGES
        | Permissions::READ_MESSAGE_HISTORY
        | Permissions::ADD_REACTIONS
        | Permissions::ATTACH_FILES
        | Permissions::EMBED_LINKS
}

fn snowflake(id: &str, what: &str) -> Result<u64, ApiError> {
    id.parse::<u64>()
        .ok()
        .filter(|n| *n != 0 && is_snowflake(id))
        .ok_or_else(|| ApiError::Permanent(format!("{what} `{id}` is not a Discord id")))
}

fn channel_id(channel: &ChannelRef) -> Result<ChannelId, ApiError> {
    let id = channel.id.as_deref().unwrap_or(&channel.name);
    snowflake(id, "channel").map(ChannelId::new)
}

fn message_id(target: &MessageRef) -> Result<MessageId, ApiError> {
    snowflake(&target.0, "message").map(MessageId::new)
}

fn member(user: &UserRef) -> Option<UserId> {
    user.id
        .parse::<u64>()
        .ok()
        .filter(|n| *n != 0)
        .map(UserId::new)
}

/// serenity's error as Klaxon's: 429 and 5xx and network trouble are worth retrying.
pub fn api_error(e: serenity::Error) -> ApiError {
    use serenity::http::HttpError;
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => {
            let status = r.status_code.as_u16();
            let reason = format!("{status} {} (code {})", r.error.message, r.error.code);
            if status == 429 || status >= 500 {
                ApiError::Transient {
                    reason,
                    retry_after: None,
                }
            } else {
                ApiError::Permanent(reason)
            }
        }
        serenity::Error::Http(HttpError::Request(e)) => ApiError::Transient {
            reason: format!("request failed: {}", e.without_url()),
            retry_after: None,
        },
        other => ApiError::Permanent(other.to_string()),
    }
}

fn create_message(message: &Message) -> CreateMessage {
    let r = markdown::render(message);
    let mut m = CreateMessage::new()
        .content(r.content)
        .allowed_mentions(r.mentions.allowed())
        .components(r.buttons);
    if let Some(embed) = r.embed {
        m = m.embed(embed);
    }
    m
}

fn edit_message(message: &Message) -> EditMessage {
    let r = markdown::render(message);
    // Every field is set, so the edit replaces the whole message.
    EditMessage::new()
        .content(r.content)
        .embeds(r.embed.into_iter().collect())
        .components(r.buttons)
        .allowed_mentions(r.mentions.allowed())
}

fn topic(rich: &Rich) -> String {
    markdown::clip(&markdown::plain(rich), TOPIC_LIMIT)
}

#[async_trait]
impl ChatApi for DiscordApi {
    /// Discord lets two channels share a name, so Klaxon checks the guild's channels first and
    /// answers `NameTaken`, to keep names unique as on Slack.
    async fn create_channel(&self, new: &NewChannel) -> Result<ChannelRef, ApiError> {
        let guild = GuildId::new(snowflake(&new.workspace, "guild")?);
        let existing = guild.channels(&*self.http).await.map_err(api_error)?;
        if existing.values().any(|c| c.name == new.name) {
            return Err(ApiError::NameTaken);
        }
        let mut overwrites: Vec<PermissionOverwrite> = new
            .invite
            .iter()
            .filter_map(member)
            .map(|user| PermissionOverwrite {
                allow: responder(),
                deny: Permissions::empty(),
                kind: PermissionOverwriteType::Member(user),
            })
            .collect();
        if new.private {
            // Hidden from everyone (the @everyone role's id is the guild's) but the responders
            // and Klaxon itself.
            overwrites.push(PermissionOverwrite {
                allow: Permissions::empty(),
                deny: Permissions::VIEW_CHANNEL,
                kind: PermissionOverwriteType::Role(RoleId::new(guild.get())),
            });
            overwrites.push(PermissionOverwrite {
                allow: responder() | Permissions::MANAGE_CHANNELS | Permissions::MANAGE_MESSAGES,
                deny: Permissions::empty(),
                kind: PermissionOverwriteType::Member(self.me().await?),
            });
        }
        let mut builder = CreateChannel::new(&new.name)
            .kind(ChannelType::Text)
            .topic(topic(&new.topic))
            .permissions(overwrites);
        if let Some(category) = self.settings.category {
            builder = builder.category(ChannelId::new(category));
        }
        let made = guild
            .create_channel(&*self.http, builder)
            .await
            .map_err(api_error)?;
        Ok(ChannelRef::new(made.id.to_string(), made.name))
    }

    /// A member overwrite per person: they can see the channel even in a private incident or
    /// a restricted category.
    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        let id = channel_id(channel)?;
        for user in users.iter().filter_map(member) {
            id.create_permission(
                &*self.http,
                PermissionOverwrite {
                    allow: responder(),
                    deny: Permissions::empty(),
                    kind: PermissionOverwriteType::Member(user),
                },
            )
            .await
            .map_err(api_error)?;
        }
        Ok(())
    }

    async fn set_topic(&self, channel: &ChannelRef, rich: &Rich) -> Result<(), ApiError> {
        channel_id(channel)?
            .edit(&*self.http, EditChannel::new().topic(topic(rich)))
            .await
            .map(|_| ())
            .map_err(api_error)
    }

    async fn post(&self, channel: &ChannelRef, message: &Message) -> Result<Posted, ApiError> {
        let sent = channel_id(channel)?
            .send_message(&*self.http, create_message(message))
            .await
            .map_err(api_error)?;
        Ok(Posted {
            channel_id: sent.channel_id.to_string(),
            message: MessageRef(sent.id.to_string()),
        })
    }

    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        channel_id(channel)?
            .edit_message(&*self.http, message_id(target)?, edit_message(message))
            .await
            .map(|_| ())
            .map_err(api_error)
    }

    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
        channel_id(channel)?
            .pin(&*self.http, message_id(target)?)
            .await
            .map_err(api_error)
    }

    async fn upload(&self, channel: &ChannelRef, file: &Upload) -> Result<MessageRef, ApiError> {
        let attachment = CreateAttachment::bytes(file.content.as_bytes().to_vec(), &file.filename)
            .description(markdown::clip(&file.title, 1024));
        let sent = channel_id(channel)?
            .send_message(
                &*self.http,
                create_message(&file.comment).add_file(attachment),
            )
            .await
            .map_err(api_error)?;
        Ok(MessageRef(sent.id.to_string()))
    }
}
