//! Calls made once even when made again: a post carries its call's key in the message's
//! metadata and a retry adopts the message it finds in the channel's history; a channel
//! creation retried after a crash adopts the channel Klaxon's bot user made under the claimed
//! name.

use klaxon_commands::{
    ApiError, ChannelRef, ChatApi as _, Message, MessageRef, NewChannel, Once, Posted, Unfinished,
};
use slack_morphism::prelude::*;

use crate::SlackApi;
use crate::api::{channel_id, classify};

/// The metadata `event_type` of Klaxon's posts, and the payload field holding the call's key.
const METADATA_EVENT: &str = "klaxon_outbox";
const METADATA_KEY: &str = "call";

/// How many of a channel's latest messages a retried post looks through for itself.
const HISTORY: u16 = 100;

/// How much earlier than Klaxon's claim a channel may say it was created (clock skew, and
/// Slack's whole seconds).
const SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl SlackApi {
    /// Posts with the call's key in the message's metadata (docs.slack.dev/messaging/
    /// message-metadata: an `event_type` and an `event_payload` object, returned by
    /// `conversations.history` with `include_all_metadata`). A retry first looks for a message
    /// carrying the key in the channel's recent history and adopts it instead of posting again.
    pub(crate) async fn post_now(
        &self,
        channel: &ChannelRef,
        message: &Message,
        once: &Once,
    ) -> Result<Posted, ApiError> {
        if once.retry
            && let Some(found) = self.find_posted(channel, &once.key).await?
        {
            tracing::info!(key = %once.key, "adopting the message an interrupted post made");
            return Ok(found);
        }
        let content = self
            .content(message)
            .await
            .with_metadata(SlackMessageMetadata {
                event_type: METADATA_EVENT.to_owned(),
                event_payload: Some([(METADATA_KEY.to_owned(), once.key.clone())].into()),
            });
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(channel_id(channel), content)
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        let posted = session.chat_post_message(&req).await.map_err(classify)?;
        // A post addressed by name comes back with the channel's ID: later edits need it.
        Ok(Posted {
            channel_id: posted.channel.0,
            message: MessageRef(posted.ts.0),
        })
    }

    /// The message carrying `key` in its metadata among the channel's latest [`HISTORY`]
    /// messages (`conversations.history` with `include_all_metadata`). In a public channel
    /// Klaxon posts to without being in it (the paging channel, with `chat:write.public`),
    /// the history answers `not_in_channel`: Klaxon joins it (`conversations.join`, scope
    /// `channels:join`) and reads it then. A channel whose history it still may not read
    /// has nothing found: the post is made, and a warning says it may repeat.
    pub(crate) async fn find_posted(
        &self,
        channel: &ChannelRef,
        key: &str,
    ) -> Result<Option<Posted>, ApiError> {
        let id = channel_id(channel);
        let history = match self.history(&id).await {
            Err(ApiError::Unreachable(code)) if code == "not_in_channel" => {
                match self.join(&id).await {
                    Ok(()) => self.history(&id).await,
                    Err(e @ (ApiError::Unreachable(_) | ApiError::Permanent(_))) => {
                        tracing::warn!(error = %e, channel = %id.0, "cannot join the channel to check a retried post (Klaxon needs the channels:join scope); posting again, which may repeat the message");
                        return Ok(None);
                    }
                    Err(e) => Err(e),
                }
            }
            read => read,
        };
        let history = match history {
            Ok(h) => h,
            Err(e @ (ApiError::Unreachable(_) | ApiError::Permanent(_))) => {
                tracing::warn!(error = %e, "cannot read the channel's history; posting again, which may repeat the message");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(history
            .messages
            .into_iter()
            .find(|m| {
                m.content.metadata.as_ref().is_some_and(|meta| {
                    meta.event_type == METADATA_EVENT
                        && meta
                            .event_payload
                            .as_ref()
                            .and_then(|p| p.get(METADATA_KEY))
                            .is_some_and(|k| k == key)
                })
            })
            .map(|m| Posted {
                channel_id: id.0.clone(),
                message: MessageRef(m.origin.ts.0),
            }))
    }

    /// The channel's latest [`HISTORY`] messages, with their metadata.
    async fn history(
        &self,
        id: &SlackChannelId,
    ) -> Result<SlackApiConversationsHistoryResponse, ApiError> {
        let session = self.client.open_session(&self.token);
        session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(id.clone())
                    .with_limit(HISTORY)
                    .with_include_all_metadata(true),
            )
            .await
            .map_err(classify)
    }

    /// Joins a public channel (`conversations.join`), so that its history can be read.
    async fn join(&self, id: &SlackChannelId) -> Result<(), ApiError> {
        let session = self.client.open_session(&self.token);
        session
            .conversations_join(&SlackApiConversationsJoinRequest::new(id.clone()))
            .await
            .map_err(classify)?;
        tracing::info!(channel = %id.0, "joined the channel to check a retried post against its history");
        Ok(())
    }

    /// Klaxon's bot user id (`auth.test`, once).
    async fn me(&self) -> Result<String, ApiError> {
        self.me
            .get_or_try_init(|| async {
                let session = self.client.open_session(&self.token);
                session
                    .auth_test()
                    .await
                    .map(|who| who.user_id.0)
                    .map_err(classify)
            })
            .await
            .cloned()
    }

    /// A channel named `channel.name` that Klaxon's bot user created since `since` (less
    /// [`SKEW`]), from `conversations.list`. Its topic and people are set afterwards
    /// (`set_up_channel`), as for a channel just created.
    pub(crate) async fn adopt_created_now(
        &self,
        channel: &NewChannel,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError> {
        let me = self.me().await?;
        let found = self.channels().await?.into_iter().find(|c| {
            c.name == channel.name
                && c.creator.as_deref() == Some(me.as_str())
                && c.created >= since - SKEW
        });
        let Some(found) = found else {
            return Ok(None);
        };
        Ok(Some(ChannelRef::new(found.id, found.name)))
    }

    /// The topic and people of a channel just made (or adopted): `set_up_channel`. The
    /// channel exists: a failure here must not make the outbox create another one, so it is
    /// logged and answered as unfinished, for the outbox to queue.
    pub(crate) async fn finish_setup(&self, made: &ChannelRef, channel: &NewChannel) -> Unfinished {
        let mut left = Unfinished::default();
        if let Err(e) = self.set_topic(made, &channel.topic).await {
            tracing::warn!(error = %e, "could not set the new channel's topic; queued to try again");
            left.topic = true;
        }
        if !channel.invite.is_empty()
            && let Err(e) = self.invite(made, &channel.invite).await
        {
            tracing::warn!(error = %e, "could not invite responders to the new channel; queued to try again");
            // Inviting someone already there is done, so all of them are asked again.
            left.invite = channel.invite.clone();
        }
        left
    }
}
