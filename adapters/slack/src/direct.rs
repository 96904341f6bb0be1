//! Direct messages: the IM between Klaxon's bot user and a person, opened with
//! `conversations.open`, which a post then goes to like any channel.

use klaxon_commands::{ApiError, ChannelRef, UserRef};
use slack_morphism::prelude::*;

use crate::SlackApi;
use crate::api::classify;

impl SlackApi {
    /// docs.slack.dev/reference/methods/conversations.open: `users` (one id opens a 1:1 DM;
    /// scope `im:write`) answers the IM's id, the same one when it is already open, so a
    /// retried post opens nothing new. A person Slack does not know is `user_not_found`, which
    /// no retry mends.
    pub(crate) async fn open_direct_now(&self, user: &UserRef) -> Result<ChannelRef, ApiError> {
        if !crate::mrkdwn::is_user_id(&user.id) {
            return Err(ApiError::Permanent(format!(
                "`{}` is not a Slack user id",
                user.id
            )));
        }
        let session = self.client.open_session(&self.token);
        let opened = session
            .conversations_open(
                &SlackApiConversationsOpenRequest::new()
                    .with_users(vec![SlackUserId(user.id.clone())]),
            )
            .await
            .map_err(classify)?;
        let id = opened.channel.id.0;
        Ok(ChannelRef::new(id.clone(), format!("@{}", user.id)))
    }
}
