//! Direct messages on the fake Discord: Create DM opens (or finds) the bot's DM channel with a
//! person, and a message there is refused when that person takes no DMs from the bot.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Inner;
use super::rest::user;
use super::rules::error;

/// discord.com/developers/docs/resources/user#create-dm: `POST /users/@me/channels` with
/// `recipient_id` "returns a DM channel object (if one already exists, it will be returned
/// instead)". A `recipient_id` that is not a snowflake is a form error (400, 50035 "Invalid
/// Form Body", Reference > Error Messages).
pub(super) fn open(i: &mut Inner, body: &Value) -> Response {
    let recipient = body["recipient_id"].as_str().unwrap_or_default().to_owned();
    if recipient.is_empty() || !recipient.bytes().all(|b| b.is_ascii_digit()) {
        return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
    }
    let existing = i
        .dms
        .iter()
        .find(|(_, u)| **u == recipient)
        .map(|(c, _)| c.clone());
    let id = match existing {
        Some(id) => id,
        None => {
            let id = i.id();
            i.dms.insert(id.clone(), recipient.clone());
            id
        }
    };
    // Resources > Channel > Channel Object: a DM is type 1, with its `recipients`.
    axum::Json(json!({
        "id": id, "type": 1, "last_message_id": null, "flags": 0,
        "recipients": [user(&recipient, "person")],
    }))
    .into_response()
}

/// What a message to channel `c` meets, if `c` is a DM.
pub(super) enum Dm {
    /// Not a DM: a guild channel's rules apply.
    No,
    /// A DM the bot may post in.
    Open,
    /// A DM with someone who takes no messages from the bot.
    Closed,
}

pub(super) fn check(i: &Inner, c: &str) -> Dm {
    match i.dms.get(c) {
        None => Dm::No,
        Some(person) if i.closed_dms.contains(person) => Dm::Closed,
        Some(_) => Dm::Open,
    }
}

/// 403 with 50007, "Cannot send messages to this user" (Topics > Opcodes and Status Codes >
/// JSON Error Codes): what Discord answers a message to a person whose privacy settings refuse
/// DMs from the bot, or who shares no server with it.
pub(super) fn refused() -> Response {
    error(
        StatusCode::FORBIDDEN,
        50007,
        "Cannot send messages to this user",
    )
}
