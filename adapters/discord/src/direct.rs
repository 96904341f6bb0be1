//! Direct messages: the DM channel between Klaxon and a person, which a post then goes to like
//! any channel.

use klaxon_commands::{ApiError, ChannelRef, UserRef};
use serenity::all::ChannelId;
use serenity::http::{LightMethod, Route};

use crate::markdown::is_snowflake;
use crate::rest::{Rest, with_body};

/// discord.com/developers/docs/resources/user#create-dm: `POST /users/@me/channels` with
/// `recipient_id` answers the DM channel (the existing one, if there is one), so a retried post
/// opens nothing new. Whether the person takes messages from Klaxon shows only when the post is
/// made (50007, "Cannot send messages to this user"), which no retry mends.
pub(crate) async fn open(rest: &Rest, user: &UserRef) -> Result<ChannelRef, ApiError> {
    #[derive(serde::Deserialize)]
    struct Dm {
        id: ChannelId,
    }
    if !is_snowflake(&user.id) || user.id.parse::<u64>().is_err() {
        return Err(ApiError::Permanent(format!(
            "user `{}` is not a Discord id",
            user.id
        )));
    }
    let body = serde_json::json!({ "recipient_id": user.id });
    let dm: Dm = rest
        .fire(with_body(
            Route::UserMeDmChannels,
            LightMethod::Post,
            &body,
        )?)
        .await?;
    Ok(ChannelRef::new(dm.id.to_string(), format!("@{}", user.id)))
}
