//! What Klaxon asks Slack about its workspace rather than does in it: the channels it can see
//! (`conversations.list`, paginated, and `conversations.info`), the token's identity and scopes
//! (`auth.test`). Start-up name resolution and `klaxon doctor` use these.

use klaxon_commands::ApiError;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use crate::SlackApi;

/// A channel as Klaxon's token sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    pub id: String,
    pub name: String,
    pub private: bool,
    /// Whether Klaxon is in it. A private channel is visible only when it is.
    pub member: bool,
    pub archived: bool,
    /// Who created it (a user id), and when.
    pub creator: Option<String>,
    pub created: chrono::DateTime<chrono::Utc>,
}

impl From<SlackChannelInfo> for ChannelInfo {
    fn from(c: SlackChannelInfo) -> Self {
        Self {
            name: c.name.unwrap_or_else(|| c.id.0.clone()),
            id: c.id.0,
            private: c.flags.is_private.unwrap_or(false),
            member: c.flags.is_member.unwrap_or(false),
            archived: c.flags.is_archived.unwrap_or(false),
            creator: c.creator.map(|u| u.0),
            created: chrono::DateTime::from_timestamp(c.created.0.as_second(), 0)
                .unwrap_or_default(),
        }
    }
}

/// Who the token is, and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub team_id: String,
    pub team: String,
    pub user_id: String,
    /// The token's scopes from `auth.test`'s `x-oauth-scopes` header, when Slack sent it.
    pub scopes: Option<Vec<String>>,
}

/// Every scope a call Klaxon makes needs, with the call: what the manifest must grant.
pub const SCOPES: &[(&str, &str)] = &[
    ("commands", "the /inc command"),
    ("chat:write", "chat.postMessage, chat.update"),
    (
        "chat:write.public",
        "posting in the paging channel without joining it",
    ),
    (
        "channels:manage",
        "conversations.create/invite/setTopic/archive (public)",
    ),
    ("groups:write", "the same for private incident channels"),
    ("channels:read", "conversations.list/info (public)"),
    (
        "channels:join",
        "conversations.join: checking a retried paging-channel post for a repeat",
    ),
    ("groups:read", "conversations.list/info (private)"),
    ("pins:write", "pins.add"),
    ("reactions:read", "📌 reactions"),
    ("channels:history", "reading a 📌'd message (public)"),
    ("groups:history", "reading a 📌'd message (private)"),
    ("files:write", "sharing postmortem drafts"),
    ("users:read", "users.info: people's names"),
    (
        "im:write",
        "conversations.open: shift handoffs by direct message",
    ),
    (
        "im:history",
        "a retried direct message found in the DM's history",
    ),
];

/// `conversations.list` pages of this many channels.
const PAGE: u16 = 200;
/// A workspace with more channels than pages × `PAGE` is not read further.
const MAX_PAGES: usize = 500;

impl SlackApi {
    /// Every public channel and every private channel Klaxon is in, archived ones left out
    /// (`conversations.list`, following `next_cursor`).
    pub async fn channels(&self) -> Result<Vec<ChannelInfo>, ApiError> {
        let session = self.client.open_session(&self.token);
        let mut all = Vec::new();
        let mut cursor: Option<SlackCursorId> = None;
        for _ in 0..MAX_PAGES {
            let mut req = SlackApiConversationsListRequest::new()
                .with_limit(PAGE)
                .with_exclude_archived(true)
                .with_types(vec![
                    SlackConversationType::Public,
                    SlackConversationType::Private,
                ]);
            if let Some(c) = cursor.take() {
                req = req.with_cursor(c);
            }
            let page = session
                .conversations_list(&req)
                .await
                .map_err(crate::api::classify)?;
            all.extend(page.channels.into_iter().map(ChannelInfo::from));
            match page.response_metadata.and_then(|m| m.next_cursor) {
                Some(next) if !next.0.is_empty() => cursor = Some(next),
                _ => return Ok(all),
            }
        }
        Ok(all)
    }

    /// The channel with this ID as Klaxon sees it; `None` when Slack says it does not exist
    /// (deleted, or private without Klaxon in it).
    pub async fn channel_info(&self, id: &str) -> Result<Option<ChannelInfo>, ApiError> {
        let session = self.client.open_session(&self.token);
        match session
            .conversations_info(&SlackApiConversationsInfoRequest::new(SlackChannelId(
                id.to_owned(),
            )))
            .await
        {
            Ok(found) => Ok(Some(found.channel.into())),
            Err(SlackClientError::ApiError(a)) if a.code == "channel_not_found" => Ok(None),
            Err(e) => Err(crate::api::classify(e)),
        }
    }

    /// `auth.test`: whether the token works, for which workspace, with which scopes.
    pub async fn identity(&self) -> Result<Identity, ApiError> {
        let session = self.client.open_session(&self.token);
        let who = session.auth_test().await.map_err(crate::api::classify)?;
        Ok(Identity {
            team_id: who.team_id.0,
            team: who.team,
            user_id: who.user_id.0,
            scopes: self.scopes().await,
        })
    }

    /// The `x-oauth-scopes` header of `auth.test` (Slack's documented way to read a token's
    /// scopes). slack-morphism does not expose response headers, so this one call is made
    /// with reqwest.
    async fn scopes(&self) -> Option<Vec<String>> {
        let base = self
            .api_url
            .clone()
            .unwrap_or_else(|| "https://slack.com/api".to_owned());
        let answer = reqwest::Client::new()
            .post(format!("{base}/auth.test"))
            .bearer_auth(&self.token.token_value.0)
            .send()
            .await
            .ok()?;
        let header = answer.headers().get("x-oauth-scopes")?.to_str().ok()?;
        Some(
            header
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }
}

/// Whether `s` is written as a Slack channel ID (`C…`, `G…`), not a name: names are lower
/// case, IDs upper case.
pub fn is_channel_id(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(['C', 'G'])
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        assert!(is_channel_id("C0INCIDENTS"));
        assert!(is_channel_id("G01234567"));
        assert!(!is_channel_id("incidents"));
        assert!(!is_channel_id("#incidents"));
        assert!(is_channel_id("C0PAGING"));
        assert!(!is_channel_id("c0paging"));
    }
}
