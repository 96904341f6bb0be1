//! `SlackApi`: Klaxon's platform calls as Slack Web API methods, through slack-morphism.
//!
//! Errors are sorted for the outbox: `name_taken` asks for the next name, 429 and 5xx (and
//! network failures) are retried after Slack's `Retry-After` or with backoff, anything else is
//! permanent. The token lives in the client; it is never logged.

use std::sync::Arc;

use async_trait::async_trait;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Message, MessageRef, NewChannel, Rich, Upload, UserRef,
};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::mrkdwn;

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// The Slack Web API, as Klaxon uses it. Cheap to clone.
#[derive(Clone)]
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackApi { token: <redacted> }")
    }
}

impl SlackApi {
    /// A client for the bot token, against `api_url` (`SLACK_API_URL`, for tests and proxies)
    /// or Slack itself. Plain `http://` is allowed for a local fake.
    pub fn new(bot_token: &str, api_url: Option<&str>) -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        let mut connector = SlackClientHyperConnector::with_connector(https);
        if let Some(url) = api_url {
            connector = connector.with_slack_api_url(url.trim_end_matches('/'));
        }
        Self {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.to_owned())),
        }
    }

    /// Opens a form (`views.open`) for the command or click whose `trigger_id` this is; Slack
    /// accepts it only within three seconds of the trigger.
    pub async fn open_view(
        &self,
        trigger_id: &str,
        view: serde_json::Value,
    ) -> Result<(), ApiError> {
        let view: SlackView = serde_json::from_value(view)
            .map_err(|e| ApiError::Permanent(format!("not a Slack view: {e}")))?;
        let session = self.client.open_session(&self.token);
        session
            .views_open(&SlackApiViewsOpenRequest::new(
                SlackTriggerId(trigger_id.to_owned()),
                view,
            ))
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// The message `ts` in `channel` as Slack holds it, with its permalink: from
    /// `conversations.history` (latest = ts, inclusive, limit 1), or, for a reply in a thread,
    /// `conversations.replies`. `None` when Slack no longer has it.
    pub async fn fetch_message(
        &self,
        channel: &str,
        ts: &str,
    ) -> Result<Option<klaxon_commands::Captured>, ApiError> {
        let session = self.client.open_session(&self.token);
        let channel_id = SlackChannelId(channel.to_owned());
        let history = session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(channel_id.clone())
                    .with_latest(SlackTs(ts.to_owned()))
                    .with_inclusive(true)
                    .with_limit(1),
            )
            .await
            .map_err(classify)?;
        let mut found = history.messages.into_iter().find(|m| m.origin.ts.0 == ts);
        if found.is_none() {
            found = match session
                .conversations_replies(
                    &SlackApiConversationsRepliesRequest::new(
                        channel_id.clone(),
                        SlackTs(ts.to_owned()),
                    )
                    .with_latest(SlackTs(ts.to_owned()))
                    .with_inclusive(true),
                )
                .await
            {
                Ok(replies) => replies.messages.into_iter().find(|m| m.origin.ts.0 == ts),
                Err(SlackClientError::ApiError(a)) if a.code == "thread_not_found" => None,
                Err(e) => return Err(classify(e)),
            };
        }
        let Some(message) = found else {
            return Ok(None);
        };
        let Some(at) = crate::events::ts_time(ts) else {
            return Ok(None);
        };
        // A missing permalink does not lose the capture.
        let permalink = match session
            .chat_get_permalink(&SlackApiChatGetPermalinkRequest::new(
                channel_id,
                SlackTs(ts.to_owned()),
            ))
            .await
        {
            Ok(p) => Some(p.permalink.to_string()),
            Err(e) => {
                tracing::warn!(error = %e, "no permalink for a captured message");
                None
            }
        };
        let author = match (&message.sender.user, &message.sender.bot_id) {
            (Some(user), _) => UserRef::id(user.0.clone()),
            (None, Some(bot)) => UserRef::named(
                bot.0.clone(),
                message
                    .sender
                    .username
                    .clone()
                    .unwrap_or_else(|| "bot".to_owned()),
            ),
            (None, None) => UserRef::named("unknown", "unknown"),
        };
        Ok(Some(klaxon_commands::Captured {
            author,
            text: message.content.text.unwrap_or_default(),
            at,
            permalink,
        }))
    }

    fn content(message: &Message) -> SlackMessageContent {
        let blocks: Vec<SlackBlock> = mrkdwn::blocks(message)
            .into_iter()
            .filter_map(|b| serde_json::from_value(b).ok())
            .collect();
        SlackMessageContent::new()
            .with_text(mrkdwn::text(message))
            .with_blocks(blocks)
    }
}

/// Sorts a Slack failure for the outbox.
fn classify(e: SlackClientError) -> ApiError {
    match e {
        SlackClientError::RateLimitError(r) => ApiError::Transient {
            reason: "ratelimited".to_owned(),
            retry_after: r.retry_after,
        },
        SlackClientError::ApiError(a) => match a.code.as_str() {
            "name_taken" => ApiError::NameTaken,
            "ratelimited"
            | "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout" => ApiError::Transient {
                reason: a.code,
                retry_after: None,
            },
            _ => ApiError::Permanent(a.code),
        },
        SlackClientError::HttpError(h)
            if h.status_code.is_server_error() || h.status_code.as_u16() == 429 =>
        {
            ApiError::Transient {
                reason: format!("HTTP {}", h.status_code.as_u16()),
                retry_after: None,
            }
        }
        SlackClientError::HttpError(h) => {
            ApiError::Permanent(format!("HTTP {}", h.status_code.as_u16()))
        }
        other => ApiError::Transient {
            reason: other.to_string().chars().take(200).collect(),
            retry_after: None,
        },
    }
}

fn channel_id(channel: &ChannelRef) -> SlackChannelId {
    SlackChannelId(channel.id.clone().unwrap_or_else(|| channel.name.clone()))
}

#[async_trait]
impl ChatApi for SlackApi {
    async fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRef, ApiError> {
        let session = self.client.open_session(&self.token);
        let created = session
            .conversations_create(
                &SlackApiConversationsCreateRequest::new(channel.name.clone())
                    .with_is_private(channel.private),
            )
            .await
            .map_err(classify)?;
        let made = ChannelRef::new(created.channel.id.0.clone(), channel.name.clone());
        // The channel exists now: a failed topic or invite must not make the outbox create
        // another one, so they are logged, not returned.
        if let Err(e) = self.set_topic(&made, &channel.topic).await {
            tracing::warn!(error = %e, "could not set the new channel's topic");
        }
        if !channel.invite.is_empty()
            && let Err(e) = self.invite(&made, &channel.invite).await
        {
            tracing::warn!(error = %e, "could not invite responders to the new channel");
        }
        Ok(made)
    }

    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        let users: Vec<SlackUserId> = users.iter().map(|u| SlackUserId(u.id.clone())).collect();
        let session = self.client.open_session(&self.token);
        match session
            .conversations_invite(&SlackApiConversationsInviteRequest::new(
                channel_id(channel),
                users,
            ))
            .await
        {
            Ok(_) => Ok(()),
            Err(SlackClientError::ApiError(a))
                if a.code == "already_in_channel" || a.code == "cant_invite_self" =>
            {
                Ok(())
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn set_topic(&self, channel: &ChannelRef, topic: &Rich) -> Result<(), ApiError> {
        // Topics are at most 250 characters.
        let topic: String = mrkdwn::line(topic).chars().take(250).collect();
        let session = self.client.open_session(&self.token);
        session
            .conversations_set_topic(&SlackApiConversationsSetTopicRequest::new(
                channel_id(channel),
                topic,
            ))
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn post(&self, channel: &ChannelRef, message: &Message) -> Result<MessageRef, ApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(channel_id(channel), Self::content(message))
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        let posted = session.chat_post_message(&req).await.map_err(classify)?;
        Ok(MessageRef(posted.ts.0))
    }

    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatUpdateRequest::new(
            channel_id(channel),
            Self::content(message),
            SlackTs(target.0.clone()),
        );
        session
            .chat_update(&req)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
        let session = self.client.open_session(&self.token);
        match session
            .pins_add(&SlackApiPinsAddRequest::new(
                channel_id(channel),
                SlackTs(target.0.clone()),
            ))
            .await
        {
            Ok(_) => Ok(()),
            Err(SlackClientError::ApiError(a)) if a.code == "already_pinned" => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    /// Slack's current way to share a file: `files.getUploadURLExternal`, the bytes to the URL
    /// it gives, then `files.completeUploadExternal` shares it in the channel with the comment.
    /// A retry after a failure starts again from the first step; an upload never completed is
    /// never shown. The reference is the file's id.
    async fn upload(&self, channel: &ChannelRef, file: &Upload) -> Result<MessageRef, ApiError> {
        let session = self.client.open_session(&self.token);
        let bytes = file.content.as_bytes().to_vec();
        let url = session
            .get_upload_url_external(&SlackApiFilesGetUploadUrlExternalRequest::new(
                file.filename.clone(),
                bytes.len(),
            ))
            .await
            .map_err(classify)?;
        session
            .files_upload_via_url(&SlackApiFilesUploadViaUrlRequest::new(
                url.upload_url,
                bytes,
                "text/markdown".to_owned(),
            ))
            .await
            .map_err(classify)?;
        session
            .files_complete_upload_external(
                &SlackApiFilesCompleteUploadExternalRequest::new(vec![
                    SlackApiFilesComplete::new(url.file_id.clone()).with_title(file.title.clone()),
                ])
                .with_channel_id(channel_id(channel))
                .with_initial_comment(mrkdwn::text(&file.comment)),
            )
            .await
            .map_err(classify)?;
        Ok(MessageRef(url.file_id.0))
    }
}
