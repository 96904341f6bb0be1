//! Klaxon's platform calls as Discord REST calls, through serenity's `Http`.
//!
//! In production serenity's rate limiter is on. It sleeps inside the call until a bucket has
//! room; a short wait is fine, but Discord holds channel name and topic edits to 2 per 10
//! minutes per channel, and a call sleeping for minutes would hold the outbox. So every call
//! runs under [`limited`]: when serenity announces a wait of [`INLINE_WAIT`] or more (its
//! rate-limit callback fires just before it sleeps, before the request is sent again), the
//! call is dropped there and answers `Transient` with that wait as `retry_after`, and the
//! outbox tries it again then. With `DISCORD_API_URL` (tests, or an HTTP proxy that
//! rate-limits for several processes) requests go to that base URL and serenity's limiter is
//! off, as serenity requires; a 429 or 5xx then comes back as a transient error. The calls go
//! through [`crate::rest::Rest`], which reads the wait a 5xx asks for (`Retry-After`, or the
//! body's `retry_after`); without one, and for a 429 without the limiter, the outbox's backoff
//! applies.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Message, MessageRef, NewChannel, Once, Posted, Rich, Upload,
    UserRef,
};
use serenity::all::{
    ChannelId, ChannelType, CreateAttachment, CreateChannel, CreateMessage, CurrentUser,
    EditChannel, EditMessage, GuildChannel, GuildId, Http, HttpBuilder, MessageId,
    PermissionOverwrite, PermissionOverwriteType, Permissions, RoleId, UserId,
};
use serenity::http::{LightMethod, Multipart, MultipartUpload, RatelimitInfo, Request, Route};
use tokio::sync::{Notify, OnceCell};

use crate::markdown::{self, Mentions, is_snowflake};
pub use crate::rest::api_error;
use crate::rest::{Rest, create_channel, with_body};

/// Longest channel topic Discord accepts.
pub(crate) const TOPIC_LIMIT: usize = 1024;

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
    let mut http = builder.build();
    if let Some(limiter) = http.ratelimiter.as_mut() {
        limiter.set_ratelimit_callback(Box::new(on_ratelimit));
    }
    http
}

/// A wait serenity's limiter may spend inside a call; a longer one postpones the call.
pub const INLINE_WAIT: Duration = Duration::from_secs(2);

/// What serenity's limiter said about the call running in this task.
#[derive(Default)]
struct LongWait {
    wait: std::sync::Mutex<Option<Duration>>,
    announced: Notify,
}

tokio::task_local! {
    static CALL: Arc<LongWait>;
}

/// serenity's rate-limit callback. It runs inside the call's own poll, just before serenity
/// sleeps (`Ratelimit::pre_hook`, `post_hook` and the global limit in serenity's
/// `http/ratelimiting.rs`), so the task-local names the call that is about to wait.
fn on_ratelimit(info: RatelimitInfo) {
    if info.timeout < INLINE_WAIT {
        return;
    }
    let _ = CALL.try_with(|call| {
        *call
            .wait
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(info.timeout);
        call.announced.notify_one();
    });
}

/// Runs one call; if serenity's limiter announces a long wait, the call is dropped before its
/// request is sent again and answers `Transient` with Discord's wait as `retry_after`.
pub async fn limited<T>(
    call: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let wait = Arc::new(LongWait::default());
    let announced = wait.announced.notified();
    tokio::select! {
        done = CALL.scope(Arc::clone(&wait), call) => done,
        () = announced => {
            let retry_after = *wait.wait.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            Err(ApiError::Transient {
                reason: "rate limited by Discord".to_owned(),
                retry_after,
            })
        }
    }
}

/// Where incident channels go.
#[derive(Debug, Clone, Default)]
pub struct ChannelSettings {
    /// The category incident channels are created under, for guilds not listed in `guilds`.
    pub category: Option<u64>,
    /// The category per guild id.
    pub guilds: std::collections::HashMap<u64, u64>,
    /// The archive category, for guilds not listed in `archive_guilds`; none: "Incident
    /// archive", made when first needed.
    pub archive: Option<u64>,
    /// The archive category per guild id.
    pub archive_guilds: std::collections::HashMap<u64, u64>,
}

impl ChannelSettings {
    /// The incidents category of this guild, if any.
    pub fn category(&self, guild: GuildId) -> Option<ChannelId> {
        self.guilds
            .get(&guild.get())
            .copied()
            .or(self.category)
            .map(ChannelId::new)
    }

    /// The configured archive category of this guild, if any.
    pub fn archive(&self, guild: GuildId) -> Option<ChannelId> {
        self.archive_guilds
            .get(&guild.get())
            .copied()
            .or(self.archive)
            .map(ChannelId::new)
    }
}

/// The Discord side of [`ChatApi`].
pub struct DiscordApi {
    pub(crate) rest: Rest,
    settings: ChannelSettings,
    /// The bot's own user id, so a private channel stays visible to it.
    me: OnceCell<UserId>,
    /// One channel creation at a time: the name check and the choice of a category with
    /// room read the guild's channels, which the previous creation changed.
    pub(crate) creating: tokio::sync::Mutex<()>,
}

impl DiscordApi {
    pub fn new(http: Arc<Http>, settings: ChannelSettings) -> Self {
        Self {
            rest: Rest::new(http),
            settings,
            me: OnceCell::new(),
            creating: tokio::sync::Mutex::new(()),
        }
    }

    async fn me(&self) -> Result<UserId, ApiError> {
        self.me
            .get_or_try_init(|| async {
                self.rest
                    .fire::<CurrentUser>(Request::new(Route::UserMe, LightMethod::Get))
                    .await
                    .map(|u| u.id)
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

pub(crate) fn snowflake(id: &str, what: &str) -> Result<u64, ApiError> {
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

/// The guild's channels by id (`GET /guilds/{guild}/channels`).
pub(crate) async fn channels(
    rest: &Rest,
    guild: GuildId,
) -> Result<std::collections::HashMap<ChannelId, GuildChannel>, ApiError> {
    let list: Vec<GuildChannel> = rest
        .fire(Request::new(
            Route::GuildChannels { guild_id: guild },
            LightMethod::Get,
        ))
        .await?;
    Ok(list.into_iter().map(|c| (c.id, c)).collect())
}

pub(crate) fn topic(rich: &Rich) -> String {
    markdown::clip(&markdown::plain(rich), TOPIC_LIMIT)
}

/// The calls themselves; [`ChatApi`] runs each under [`limited`].
impl DiscordApi {
    /// Discord lets two channels share a name, so Klaxon checks the guild's channels first and
    /// answers `NameTaken`, to keep names unique as on Slack.
    async fn create_channel_now(&self, new: &NewChannel) -> Result<ChannelRef, ApiError> {
        let guild = GuildId::new(snowflake(&new.workspace, "guild")?);
        let _one_at_a_time = self.creating.lock().await;
        let existing = channels(&self.rest, guild).await?;
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
            .topic(Self::topic_with_marker(&new.topic, &new.key))
            .permissions(overwrites);
        if let Some(category) = self.settings.category(guild) {
            let room = crate::places::room(&self.rest, guild, &existing, category).await?;
            builder = builder.category(room);
        }
        let made = create_channel(&self.rest, guild, &builder).await?;
        Ok(ChannelRef::new(made.id.to_string(), made.name))
    }

    /// Moves the channel into an archive category with room (`archive`), or back into the
    /// incidents category with room (none configured: out of any category). A channel already
    /// where it should be is done. The move keeps the channel's own permission overwrites (no
    /// `lock_permissions`), so a private incident stays private.
    async fn archive_now(&self, channel: &ChannelRef, archive: bool) -> Result<(), ApiError> {
        let id = channel_id(channel)?;
        let _one_at_a_time = self.creating.lock().await;
        let current: GuildChannel = self
            .rest
            .fire(Request::new(
                Route::Channel { channel_id: id },
                LightMethod::Get,
            ))
            .await?;
        let guild = current.guild_id;
        let existing = channels(&self.rest, guild).await?;
        let configured = self.settings.archive(guild);
        let archived = current
            .parent_id
            .is_some_and(|p| crate::places::is_archive(&existing, configured, p));
        if archived == archive {
            return Ok(());
        }
        let to = if archive {
            Some(crate::places::archive_room(&self.rest, guild, &existing, configured).await?)
        } else {
            match self.settings.category(guild) {
                Some(base) => Some(crate::places::room(&self.rest, guild, &existing, base).await?),
                None => None,
            }
        };
        let route = Route::Channel { channel_id: id };
        let edit = EditChannel::new().category(to);
        self.rest
            .fire::<serde::de::IgnoredAny>(with_body(route, LightMethod::Patch, &edit)?)
            .await
            .map(|_| ())
    }

    /// A member overwrite per person: they can see the channel even in a private incident or
    /// a restricted category.
    async fn invite_now(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        let id = channel_id(channel)?;
        for user in users.iter().filter_map(member) {
            let overwrite = PermissionOverwrite {
                allow: responder(),
                deny: Permissions::empty(),
                kind: PermissionOverwriteType::Member(user),
            };
            let route = Route::ChannelPermission {
                channel_id: id,
                target_id: user.into(),
            };
            self.rest
                .wind(with_body(route, LightMethod::Put, &overwrite)?)
                .await?;
        }
        Ok(())
    }

    async fn set_topic_now(&self, channel: &ChannelRef, rich: &Rich) -> Result<(), ApiError> {
        let route = Route::Channel {
            channel_id: channel_id(channel)?,
        };
        let edit = EditChannel::new().topic(topic(rich));
        self.rest
            .fire::<serde::de::IgnoredAny>(with_body(route, LightMethod::Patch, &edit)?)
            .await
            .map(|_| ())
    }

    /// Sends the call's key as the message's nonce with `enforce_nonce`
    /// (discord.com/developers/docs/resources/message#create-message: "If true and nonce is
    /// present, it will be checked for uniqueness in the past few minutes. If another message
    /// was created by the same author with the same nonce, that message will be returned and
    /// no new message will be created"): a retry within those minutes gets the first message.
    async fn post_now(
        &self,
        channel: &ChannelRef,
        message: &Message,
        once: &Once,
    ) -> Result<Posted, ApiError> {
        let route = Route::ChannelMessages {
            channel_id: channel_id(channel)?,
        };
        let body = create_message(message)
            .nonce(serenity::all::Nonce::String(once.key.clone()))
            .enforce_nonce(true);
        let sent: serenity::all::Message = self
            .rest
            .fire(with_body(route, LightMethod::Post, &body)?)
            .await?;
        Ok(Posted {
            channel_id: sent.channel_id.to_string(),
            message: MessageRef(sent.id.to_string()),
        })
    }

    async fn edit_now(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        let route = Route::ChannelMessage {
            channel_id: channel_id(channel)?,
            message_id: message_id(target)?,
        };
        self.rest
            .fire::<serde::de::IgnoredAny>(with_body(
                route,
                LightMethod::Patch,
                &edit_message(message),
            )?)
            .await
            .map(|_| ())
    }

    async fn pin_now(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
        self.rest
            .wind(Request::new(
                Route::ChannelPin {
                    channel_id: channel_id(channel)?,
                    message_id: message_id(target)?,
                },
                LightMethod::Put,
            ))
            .await
    }

    async fn upload_now(
        &self,
        channel: &ChannelRef,
        file: &Upload,
    ) -> Result<MessageRef, ApiError> {
        let attachment = CreateAttachment::bytes(file.content.as_bytes().to_vec(), &file.filename)
            .description(markdown::clip(&file.title, 1024));
        // A file goes as serenity's multipart form (Http::send_message's shape: the message as
        // `payload_json`, the file as `files[0]`, matching the attachment's placeholder id 0),
        // through `Rest`, so a 5xx's Retry-After is read like any other call's.
        let payload = create_message(&file.comment).add_file(attachment.clone());
        let payload_json = serde_json::to_string(&payload)
            .map_err(|e| ApiError::Permanent(format!("the message does not serialise: {e}")))?;
        let request = Request::new(
            Route::ChannelMessages {
                channel_id: channel_id(channel)?,
            },
            LightMethod::Post,
        )
        .multipart(Some(Multipart {
            upload: MultipartUpload::Attachments(vec![attachment]),
            fields: Vec::new(),
            payload_json: Some(payload_json),
        }));
        let sent: serenity::model::channel::Message = self.rest.fire(request).await?;
        Ok(MessageRef(sent.id.to_string()))
    }
}

#[async_trait]
impl ChatApi for DiscordApi {
    async fn create_channel(&self, new: &NewChannel) -> Result<ChannelRef, ApiError> {
        limited(self.create_channel_now(new)).await
    }

    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        limited(self.invite_now(channel, users)).await
    }

    async fn open_direct(&self, user: &UserRef) -> Result<ChannelRef, ApiError> {
        limited(crate::direct::open(&self.rest, user)).await
    }

    async fn set_topic(&self, channel: &ChannelRef, rich: &Rich) -> Result<(), ApiError> {
        limited(self.set_topic_now(channel, rich)).await
    }

    async fn adopt_created(
        &self,
        new: &NewChannel,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError> {
        limited(self.adopt_created_now(new, since)).await
    }

    async fn post(
        &self,
        channel: &ChannelRef,
        message: &Message,
        once: &Once,
    ) -> Result<Posted, ApiError> {
        limited(self.post_now(channel, message, once)).await
    }

    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        limited(self.edit_now(channel, target, message)).await
    }

    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
        limited(self.pin_now(channel, target)).await
    }

    async fn upload(&self, channel: &ChannelRef, file: &Upload) -> Result<MessageRef, ApiError> {
        limited(self.upload_now(channel, file)).await
    }

    async fn archive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        limited(self.archive_now(channel, true)).await
    }

    async fn unarchive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        limited(self.archive_now(channel, false)).await
    }

    fn bucket(
        &self,
        kind: klaxon_commands::CallKind,
        workspace: &str,
        channel: Option<&str>,
    ) -> Option<klaxon_commands::Bucket> {
        Some(crate::bucket::bucket(kind, workspace, channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serenity::http::{LightMethod, Request, Route};

    /// serenity's own limiter, with a channel bucket that Discord said is spent for 600 s: the
    /// call answers at once with that wait instead of sleeping inside the outbox.
    #[tokio::test]
    async fn a_long_wait_in_serenitys_limiter_postpones_the_call_instead_of_sleeping() {
        let http = Arc::new(http("test-token", &RestSettings::default()));
        let channel = ChannelId::new(700_000_000_000_000_001);
        let route = Route::Channel {
            channel_id: channel,
        };
        let limiter = http.ratelimiter.as_ref().expect("the limiter is on");
        let bucket = Arc::clone(
            limiter
                .routes()
                .write()
                .await
                .entry(route.ratelimiting_bucket())
                .or_default(),
        );
        let spent: reqwest::Response = ::http::Response::builder()
            .status(200)
            .header("x-ratelimit-limit", "2")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset-after", "600")
            .body("")
            .expect("response")
            .into();
        bucket
            .lock()
            .await
            .post_hook(
                &spent,
                &Request::new(route, LightMethod::Patch),
                &|_| {},
                false,
            )
            .await
            .expect("headers");
        let api = DiscordApi::new(http, ChannelSettings::default());
        let target = ChannelRef::new(channel.to_string(), "inc-1");
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            api.set_topic(&target, &Rich::plain("SEV1")),
        )
        .await
        .expect("the call does not sleep for the bucket");
        match answer {
            Err(ApiError::Transient {
                retry_after: Some(wait),
                ..
            }) => assert!(
                wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
                "{wait:?}"
            ),
            other => panic!("expected a postponement, got {other:?}"),
        }
    }
}
