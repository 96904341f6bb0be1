//! The two ports between the engine and an adapter: `Handler` (platform → engine) and
//! `ChatApi` (engine → platform).

use async_trait::async_trait;

use crate::{ChannelRef, Invocation, Message, MessageRef, Reply, Rich, UserRef};

/// What the engine does with an invocation. Adapters call it and send the reply back; the reply
/// comes only after the command's effects are committed.
#[async_trait]
pub trait Handler: Send + Sync {
    async fn handle(&self, invocation: Invocation) -> Reply;

    /// Records an event about a message in an incident channel. `Ok` only once it is
    /// committed (or has nothing to do); `Err` asks the platform to deliver it again.
    async fn event(&self, event: crate::ChannelEvent) -> Result<(), String> {
        let _ = event;
        Ok(())
    }

    /// A person asked, in so many words, to put a message on its incident's timeline (Discord's
    /// "Add to timeline"): records the event and says what happened, to that person.
    async fn mark(&self, event: crate::ChannelEvent) -> Reply {
        match self.event(event).await {
            Ok(()) => Reply::ok_line(Rich::plain("📌 Added to the timeline.")),
            Err(_) => Reply::internal_error("event"),
        }
    }
}

/// A channel Klaxon asks a platform to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// The workspace it belongs in (Slack team, Discord guild): the tenant's `workspace`.
    pub workspace: String,
    /// The name to create. When it is taken the adapter answers [`ApiError::NameTaken`] and
    /// Klaxon asks again with the next suffix.
    pub name: String,
    pub private: bool,
    pub topic: Rich,
    /// People to add at once (the declarer, the IC).
    pub invite: Vec<UserRef>,
    /// Unique to this creation (the outbox call's [`Once::key`]): Discord writes it in the
    /// channel's topic, so that a retry after a crash can tell the channel it made.
    pub key: String,
}

/// The parts of a new channel's set-up that failed ([`ChatApi::set_up_channel`]): Klaxon
/// queues each as a call of its own (`set_topic`, `invite`), retried like any other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unfinished {
    /// The topic is still to be set.
    pub topic: bool,
    /// People still to be added.
    pub invite: Vec<UserRef>,
}

impl Unfinished {
    /// Everything the request asked to set up (when the set-up did not answer in time).
    pub fn all(channel: &NewChannel) -> Self {
        Self {
            topic: true,
            invite: channel.invite.clone(),
        }
    }
}

/// What makes a call that creates something safe to make again: a retry finds what an earlier,
/// interrupted attempt made instead of making it twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Once {
    /// Unique to the call, at most [`Once::MAX_KEY`] characters (Discord's nonce limit):
    /// `klaxon-<outbox id>-<when it was queued>`.
    pub key: String,
    /// An earlier attempt was started and may have reached the platform (the process stopped,
    /// or the call timed out, during it): look for what it made before making it again.
    pub retry: bool,
}

impl Once {
    /// The longest key: Discord's `nonce` is "up to 25 characters".
    pub const MAX_KEY: usize = 25;
}

/// A text file Klaxon shares in a channel (a postmortem draft), with a short comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub filename: String,
    pub title: String,
    pub content: String,
    /// The message shown with the file.
    pub comment: Message,
}

/// The wait a `Retry-After` header asks for (RFC 9110 §10.2.3): delta-seconds, or an HTTP
/// date measured from `now`. A date in the past is no wait; an unreadable value is `None`, so
/// the caller's own backoff applies. A number too large for a `u64` saturates: the outbox cuts
/// every platform wait to its maximum anyway.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<std::time::Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(std::time::Duration::from_secs(
            value.parse().unwrap_or(u64::MAX),
        ));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is an RFC 2822 date.
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.to_utc() - now)
            .to_std()
            .unwrap_or(std::time::Duration::ZERO),
    )
}

/// How a platform call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `create_channel` only: a channel of that name exists (perhaps archived). Klaxon then
    /// tries the next suffix; it never adopts a channel it did not create.
    NameTaken,
    /// Worth retrying (429, 5xx, network): after `retry_after` when the platform said so.
    Transient {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    /// Retrying cannot help (a refused argument, a message that no longer exists).
    Permanent(String),
    /// The platform refused the token or the app (revoked, deactivated, a scope missing): no
    /// call on that platform can work until an operator fixes it. Calls are kept, not dropped;
    /// the reason says what to fix.
    Auth(String),
    /// The channel does not exist for Klaxon: deleted, or private without Klaxon in it.
    Unreachable(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NameTaken => f.write_str("name_taken"),
            Self::Transient { reason, .. } => write!(f, "transient: {reason}"),
            Self::Permanent(reason) => write!(f, "permanent: {reason}"),
            Self::Auth(reason) => write!(f, "auth: {reason}"),
            Self::Unreachable(reason) => write!(f, "unreachable: {reason}"),
        }
    }
}

impl ApiError {
    /// Whether the platform's rate limit refused the call (HTTP 429, Slack's `ratelimited`, a
    /// wait serenity's limiter announced): its bucket pauses, not only the call.
    pub fn is_rate_limit(&self) -> bool {
        matches!(self, Self::Transient { reason, .. } if reason == RATE_LIMITED
            || reason == "HTTP 429"
            || reason.starts_with("429 ")
            || reason == "rate limited by Discord")
    }
}

/// The reason a rate-limited call gives (`ApiError::Transient`), as Slack words it.
pub const RATE_LIMITED: &str = "ratelimited";

/// A platform's pace for one bucket: `calls` per `per`, from its SDK's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub calls: u32,
    pub per: std::time::Duration,
}

impl Pace {
    /// The time between two calls at this pace.
    pub fn interval(&self) -> std::time::Duration {
        self.per / self.calls.max(1)
    }
}

/// The rate-limit bucket a call counts against: calls with the same key share the platform's
/// limit (Slack: a method per workspace, or `chat.postMessage` per channel; Discord: a route
/// bucket). `pace` is how fast the bucket refills, when the platform's SDK knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub key: String,
    pub pace: Option<Pace>,
}

/// What a call does, for its bucket: one per [`ChatApi`] method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    CreateChannel,
    Invite,
    SetTopic,
    Post,
    Edit,
    Pin,
    Upload,
    Archive,
    Unarchive,
}

/// A message the platform accepted: the channel's id as the platform answered it (a post
/// addressed by name comes back with the id) and the message's reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel_id: String,
    pub message: MessageRef,
}

/// The platform calls the engine's outbox makes. Each adapter implements it over its SDK.
#[async_trait]
pub trait ChatApi: Send + Sync {
    /// Creates the channel under exactly the given name, or answers [`ApiError::NameTaken`].
    async fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRef, ApiError>;
    /// The channel an earlier, interrupted `create_channel` of this very request made, if the
    /// platform shows one: same name, made by Klaxon (Slack: its creator is Klaxon's bot
    /// user; Discord: its topic carries `channel.key`), not before `since`. A retry adopts it
    /// instead of making a twin under the next suffix. A channel Klaxon cannot read or find
    /// is `Ok(None)`.
    async fn adopt_created(
        &self,
        channel: &NewChannel,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError>;
    /// What a platform makes separate calls of after the channel exists (Slack: its topic
    /// and its people; Discord sets both in the creation itself, so nothing). Klaxon makes
    /// them after `create_channel` or `adopt_created` has answered, outside the creation's
    /// turn at its rate-limit bucket, so that the next incident's channel is not created only
    /// after this one's topic and invitations. The channel exists by then: a part that fails
    /// must not make Klaxon create another channel, so it is answered [`Unfinished`] and
    /// Klaxon queues it as a call of its own.
    async fn set_up_channel(&self, _made: &ChannelRef, _channel: &NewChannel) -> Unfinished {
        Unfinished::default()
    }
    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError>;
    /// The direct-message channel between Klaxon and `user`, opened if it is not yet (Slack:
    /// `conversations.open`; Discord: Create DM). Asking again answers the same channel, so a
    /// retried post opens nothing twice; a person the platform does not let Klaxon write to is
    /// refused here or by the post.
    async fn open_direct(&self, user: &UserRef) -> Result<ChannelRef, ApiError>;
    async fn set_topic(&self, channel: &ChannelRef, topic: &Rich) -> Result<(), ApiError>;
    /// Posts the message once: Discord sends `once.key` as the message's enforced nonce; Slack
    /// carries it in the message's metadata and, on a retry, adopts a message in the channel's
    /// recent history that carries it instead of posting again.
    async fn post(
        &self,
        channel: &ChannelRef,
        message: &Message,
        once: &Once,
    ) -> Result<Posted, ApiError>;
    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError>;
    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError>;
    /// Shares a text file in the channel (Slack: a file upload; Discord: an attachment).
    async fn upload(&self, channel: &ChannelRef, file: &Upload) -> Result<MessageRef, ApiError>;
    /// Archives a resolved incident's channel (Slack: `conversations.archive`; Discord: a move
    /// to the archive category). A channel already archived is done.
    async fn archive(&self, channel: &ChannelRef) -> Result<(), ApiError>;
    /// Brings an archived incident channel back for a reopened incident (Discord: a move back
    /// to the incidents category). A channel that is not archived is done.
    async fn unarchive(&self, channel: &ChannelRef) -> Result<(), ApiError>;

    /// The rate-limit bucket a call of `kind` in `workspace` counts against, with its pace.
    /// `channel` is the channel's id or name when the outbox knows it, or a stand-in unique to
    /// an incident's channel; `None` when the call's channel is not known before it is made.
    /// `None` (the default): the platform has no limit Klaxon should share between calls.
    fn bucket(&self, kind: CallKind, workspace: &str, channel: Option<&str>) -> Option<Bucket> {
        let _ = (kind, workspace, channel);
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::retry_after;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T01:00:00Z")
            .expect("date")
            .to_utc();
        assert_eq!(retry_after("30", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Wed, 02 Dec 2026 01:02:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after("Wed, 02 Dec 2026 00:59:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past is no wait"
        );
        assert_eq!(
            retry_after("99999999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX)),
            "saturates; the outbox caps it"
        );
        for junk in ["", "-5", "1.5", "soon", "30s", "٣"] {
            assert_eq!(retry_after(junk, now), None, "{junk:?}");
        }
    }
}
