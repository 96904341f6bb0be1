//! `SlackApi`: Klaxon's platform calls as Slack Web API methods, through slack-morphism.
//!
//! Errors are sorted for the outbox: `name_taken` asks for the next name, 429 and 5xx (and
//! network failures) are retried after Slack's `Retry-After` or with backoff, a refused token
//! or a missing scope pauses the calls (`ApiError::Auth`), a channel Klaxon cannot see is
//! `ApiError::Unreachable`, anything else is permanent. Every channel is addressed by ID
//! (`chat.postMessage` alone takes a name, and answers with the ID). People are shown by name
//! (`users.info`, cached), never as a mention that notifies. The token lives in the client; it
//! is never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Message, MessageRef, NewChannel, Once, Posted, Rich, Span,
    Unfinished, Upload, UserRef,
};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::connector::{Connector, last_retry_after, observed};
use crate::mrkdwn;

/// The Slack Web API, as Klaxon uses it. Cheap to clone.
#[derive(Clone)]
pub struct SlackApi {
    pub(crate) client: Arc<SlackClient<Connector>>,
    pub(crate) token: SlackApiToken,
    /// The Web API base (`None`: Slack's), for the one raw call `auth.test`'s scopes need.
    pub(crate) api_url: Option<String>,
    /// People's names by user id, from `users.info`.
    names: Arc<Mutex<HashMap<String, String>>>,
    /// How many times faster than slack-morphism's pace the buckets refill (1; tests against
    /// a fake whose limits are scaled down the same way set more).
    pace_speed: u32,
    /// Klaxon's own bot user id, from `auth.test`: the creator of the channels it made.
    pub(crate) me: Arc<tokio::sync::OnceCell<String>>,
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
        Self {
            client: Arc::new(SlackClient::new(Connector::new(api_url))),
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.to_owned())),
            api_url: api_url.map(|u| u.trim_end_matches('/').to_owned()),
            names: Arc::default(),
            pace_speed: 1,
            me: Arc::default(),
        }
    }

    /// Paces the rate-limit buckets `speed` times faster than Slack's published limits, for a
    /// fake Slack whose limits are scaled down by the same factor (`enforce_tiers`).
    #[must_use]
    pub fn with_pace_speed(mut self, speed: u32) -> Self {
        self.pace_speed = speed.max(1);
        self
    }

    /// The names of the people `rich` shows (`Span::Person`), from `users.info` once per
    /// person; someone Slack does not answer for keeps the name Klaxon has.
    async fn names(&self, rich: &[&Rich]) -> mrkdwn::Names {
        let mut names = mrkdwn::Names::new();
        for span in rich.iter().flat_map(|r| r.0.iter()) {
            let Span::Person(u) = span else { continue };
            if names.contains_key(&u.id) || !mrkdwn::is_user_id(&u.id) {
                continue;
            }
            let cached = self
                .names
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&u.id)
                .cloned();
            let name = match cached {
                Some(n) => Some(n),
                None => self.look_up(&u.id).await,
            };
            if let Some(name) = name {
                names.insert(u.id.clone(), name);
            }
        }
        names
    }

    async fn look_up(&self, id: &str) -> Option<String> {
        let session = self.client.open_session(&self.token);
        match session
            .users_info(&SlackApiUsersInfoRequest::new(SlackUserId(id.to_owned())))
            .await
        {
            Ok(found) => {
                let u = found.user;
                let profile = u.profile.unwrap_or_else(SlackUserProfile::new);
                let name = [profile.display_name, profile.real_name, u.real_name, u.name]
                    .into_iter()
                    .flatten()
                    .find(|n| !n.trim().is_empty())?;
                self.names
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_owned(), name.clone());
                Some(name)
            }
            Err(e) => {
                tracing::warn!(error = %e, "users.info failed; showing the name Klaxon has");
                None
            }
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

    /// Answers the person who clicked a button through the click's `response_url`: a message
    /// only they see, leaving the message they clicked as it is.
    pub async fn respond(&self, response_url: &str, text: &str) -> Result<(), ApiError> {
        let url = response_url
            .parse::<url::Url>()
            .map_err(|e| ApiError::Permanent(format!("not a response_url: {e}")))?;
        let req = SlackApiPostWebhookMessageRequest::new(
            SlackMessageContent::new().with_text(mrkdwn::clip(text, 3000)),
        )
        .with_replace_original(false);
        self.client
            .respond_to_event(&SlackResponseUrl(url), &req)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    /// The message `ts` in `channel` as Slack holds it, with its permalink: from
    /// `conversations.history` (latest = ts, inclusive, limit 1), or, for a reply in a thread,
    /// `conversations.replies`. `None` when Slack no longer has it, or when Klaxon may not
    /// read the channel (`not_in_channel`, `channel_not_found`: Slack lets a bot read only the
    /// channels it is in, and a channel Klaxon is not in is no incident's).
    pub async fn fetch_message(
        &self,
        channel: &str,
        ts: &str,
    ) -> Result<Option<klaxon_commands::Captured>, ApiError> {
        let session = self.client.open_session(&self.token);
        let channel_id = SlackChannelId(channel.to_owned());
        let history = match session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(channel_id.clone())
                    .with_latest(SlackTs(ts.to_owned()))
                    .with_inclusive(true)
                    .with_limit(1),
            )
            .await
            .map_err(classify)
        {
            Ok(h) => h,
            Err(ApiError::Unreachable(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
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

    pub(crate) async fn content(&self, message: &Message) -> SlackMessageContent {
        let rich: Vec<&Rich> = message
            .lines
            .iter()
            .chain(message.fields.iter().map(|f| &f.value))
            .collect();
        let names = self.names(&rich).await;
        let blocks: Vec<SlackBlock> = mrkdwn::blocks_named(message, &names)
            .into_iter()
            .filter_map(|b| serde_json::from_value(b).ok())
            .collect();
        SlackMessageContent::new()
            .with_text(mrkdwn::text_named(message, &names))
            .with_blocks(blocks)
    }
}

/// What to do about a refused token or app, by Slack's error code.
fn auth_fix(code: &str, body: Option<&str>) -> Option<String> {
    Some(match code {
        "invalid_auth" | "not_authed" => {
            "invalid_auth: SLACK_BOT_TOKEN is not a valid bot token; copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page".to_owned()
        }
        "token_revoked" | "token_expired" => format!(
            "{code}: the bot token was revoked; reinstall the app and set the new SLACK_BOT_TOKEN"
        ),
        "account_inactive" => {
            "account_inactive: the bot or workspace is deactivated; reinstall the app and set the new SLACK_BOT_TOKEN".to_owned()
        }
        "missing_scope" | "no_permission" => {
            let needed = body
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
                .and_then(|v| v["needed"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "a scope".to_owned());
            format!(
                "{code}: the app lacks {needed}; add it under OAuth & Permissions (slack/manifest.yaml lists every scope), reinstall, and set the new SLACK_BOT_TOKEN"
            )
        }
        _ => return None,
    })
}

/// Sorts a Slack failure for the outbox.
pub(crate) fn classify(e: SlackClientError) -> ApiError {
    match e {
        SlackClientError::RateLimitError(r) => ApiError::Transient {
            reason: "ratelimited".to_owned(),
            retry_after: r.retry_after,
        },
        SlackClientError::ApiError(a) => match a.code.as_str() {
            code if auth_fix(code, None).is_some() => {
                ApiError::Auth(auth_fix(code, a.http_response_body.as_deref()).unwrap_or_default())
            }
            "channel_not_found" | "not_in_channel" | "is_archived" => ApiError::Unreachable(a.code),
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
        // A 5xx may say when to come back (RFC 9110 §10.2.3: `Retry-After` with 503).
        SlackClientError::HttpError(h)
            if h.status_code.is_server_error() || h.status_code.as_u16() == 429 =>
        {
            ApiError::Transient {
                reason: format!("HTTP {}", h.status_code.as_u16()),
                retry_after: last_retry_after(),
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

pub(crate) fn channel_id(channel: &ChannelRef) -> SlackChannelId {
    SlackChannelId(channel.id.clone().unwrap_or_else(|| channel.name.clone()))
}

/// The calls themselves; [`ChatApi`] runs each one [`observed`], so a failure knows the
/// `Retry-After` of the answer that failed it.
impl SlackApi {
    async fn create_channel_now(&self, channel: &NewChannel) -> Result<ChannelRef, ApiError> {
        let session = self.client.open_session(&self.token);
        let created = session
            .conversations_create(
                &SlackApiConversationsCreateRequest::new(channel.name.clone())
                    .with_is_private(channel.private),
            )
            .await
            .map_err(classify)?;
        Ok(ChannelRef::new(
            created.channel.id.0.clone(),
            channel.name.clone(),
        ))
    }

    /// One person per `conversations.invite`: without `force`, one person already there (or
    /// Klaxon itself) fails the whole call and adds nobody.
    async fn invite_now(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        let session = self.client.open_session(&self.token);
        let mut seen = std::collections::BTreeSet::new();
        for user in users.iter().filter(|u| seen.insert(u.id.clone())) {
            match session
                .conversations_invite(&SlackApiConversationsInviteRequest::new(
                    channel_id(channel),
                    vec![SlackUserId(user.id.clone())],
                ))
                .await
            {
                Ok(_) => {}
                Err(SlackClientError::ApiError(a))
                    if a.code == "already_in_channel" || a.code == "cant_invite_self" => {}
                Err(e) => return Err(classify(e)),
            }
        }
        Ok(())
    }

    async fn set_topic_now(&self, channel: &ChannelRef, topic: &Rich) -> Result<(), ApiError> {
        // Topics are at most 250 characters.
        let names = self.names(&[topic]).await;
        let topic = mrkdwn::clip(&mrkdwn::line_named(topic, &names), 250);
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

    async fn edit_now(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        let content = self.content(message).await;
        let session = self.client.open_session(&self.token);
        let req =
            SlackApiChatUpdateRequest::new(channel_id(channel), content, SlackTs(target.0.clone()));
        session
            .chat_update(&req)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn pin_now(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
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
    async fn upload_now(
        &self,
        channel: &ChannelRef,
        file: &Upload,
    ) -> Result<MessageRef, ApiError> {
        let rich: Vec<&Rich> = file.comment.lines.iter().collect();
        let names = self.names(&rich).await;
        let comment = mrkdwn::clip(&mrkdwn::text_named(&file.comment, &names), 3000);
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
                .with_initial_comment(comment),
            )
            .await
            .map_err(classify)?;
        Ok(MessageRef(url.file_id.0))
    }

    /// `conversations.archive`; a channel already archived is done.
    async fn archive_now(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        let Some(id) = &channel.id else {
            return Err(ApiError::Permanent("the channel was never created".into()));
        };
        let session = self.client.open_session(&self.token);
        match session
            .conversations_archive(&SlackApiConversationsArchiveRequest::new(SlackChannelId(
                id.clone(),
            )))
            .await
        {
            Ok(_) => Ok(()),
            Err(SlackClientError::ApiError(a)) if a.code == "already_archived" => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    /// No bot token can unarchive a Slack channel (api.slack.com/methods/conversations.unarchive:
    /// "Bot tokens (xoxb-...) cannot currently be used to unarchive conversations"), so this
    /// only reads whether a person has (`conversations.info`): done if so, a clear refusal if
    /// the channel is still archived.
    async fn unarchive_now(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        let Some(id) = &channel.id else {
            return Ok(());
        };
        match self.channel_info(id).await? {
            Some(info) if info.archived => Err(ApiError::Permanent(format!(
                "#{} is archived and Slack lets no app unarchive a channel: unarchive it in Slack",
                info.name
            ))),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl ChatApi for SlackApi {
    async fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRef, ApiError> {
        observed(self.create_channel_now(channel)).await
    }

    async fn set_up_channel(&self, made: &ChannelRef, channel: &NewChannel) -> Unfinished {
        observed(self.finish_setup(made, channel)).await
    }

    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError> {
        observed(self.invite_now(channel, users)).await
    }

    async fn open_direct(&self, user: &UserRef) -> Result<ChannelRef, ApiError> {
        observed(self.open_direct_now(user)).await
    }

    async fn set_topic(&self, channel: &ChannelRef, topic: &Rich) -> Result<(), ApiError> {
        observed(self.set_topic_now(channel, topic)).await
    }

    async fn adopt_created(
        &self,
        channel: &NewChannel,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError> {
        observed(self.adopt_created_now(channel, since)).await
    }

    async fn post(
        &self,
        channel: &ChannelRef,
        message: &Message,
        once: &Once,
    ) -> Result<Posted, ApiError> {
        observed(self.post_now(channel, message, once)).await
    }

    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError> {
        observed(self.edit_now(channel, target, message)).await
    }

    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError> {
        observed(self.pin_now(channel, target)).await
    }

    async fn upload(&self, channel: &ChannelRef, file: &Upload) -> Result<MessageRef, ApiError> {
        observed(self.upload_now(channel, file)).await
    }

    async fn archive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        observed(self.archive_now(channel)).await
    }

    async fn unarchive(&self, channel: &ChannelRef) -> Result<(), ApiError> {
        observed(self.unarchive_now(channel)).await
    }

    fn bucket(
        &self,
        kind: klaxon_commands::CallKind,
        workspace: &str,
        channel: Option<&str>,
    ) -> Option<klaxon_commands::Bucket> {
        Some(crate::bucket::bucket(
            kind,
            workspace,
            channel,
            self.pace_speed,
        ))
    }
}
