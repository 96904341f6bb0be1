//! The limits the fake Discord enforces and the checks of what Klaxon sends: permissions,
//! message and embed limits, channel names and topics, categories with room, the name/topic
//! edit bucket and 429s, with Discord's error answers. Each rule cites the page of Discord's
//! developer documentation (discord.com/developers/docs) it comes from.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{BOT_ID, Channel, GUILD, Inner, perm};

/// Resources > Channel > Modify Channel: a channel's name and topic may be changed twice per
/// 10 minutes per channel; further edits answer 429 with the wait in `retry_after`.
pub(super) const TOPIC_WINDOW: Duration = Duration::from_secs(600);
pub(super) const TOPIC_EDITS: usize = 2;
/// Topics > Permissions / Resources > Guild: a category holds at most 50 channels.
pub(super) const CATEGORY_CAP: usize = 50;
/// Resources > Guild > Create Guild Channel: at most 500 channels (categories included).
pub(super) const GUILD_CAP: usize = 500;
/// Resources > Message > Pin Message: at most 50 pinned messages per channel (30003).
pub(super) const PIN_CAP: usize = 50;
/// Interactions > Receiving and Responding > Responding to an Interaction: the first
/// response within 3 seconds, and the token is valid for 15 minutes.
pub(super) const FIRST_RESPONSE: Duration = Duration::from_secs(3);
pub(super) const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub(super) fn error(status: StatusCode, code: u64, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "message": message, "code": code })),
    )
        .into_response()
}

/// 400 Invalid Form Body (50035), with the offending field as Discord reports it.
pub(super) fn invalid(field: &str, code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "message": "Invalid Form Body", "code": 50035,
            "errors": { field: { "_errors": [{ "code": code, "message": message }] } }
        })),
    )
        .into_response()
}

pub(super) fn missing_permissions() -> Response {
    error(StatusCode::FORBIDDEN, 50013, "Missing Permissions")
}

pub(super) fn unknown_channel() -> Response {
    error(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
}

pub(super) fn unknown_message() -> Response {
    error(StatusCode::NOT_FOUND, 10008, "Unknown Message")
}

/// Reference > Snowflakes: ids are 64-bit integers sent as decimal strings.
pub(super) fn is_snowflake(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u64>().is_ok()
}

pub(super) fn bits(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64())
        .unwrap_or(0)
}

impl Inner {
    /// The bot's guild-wide permissions (Topics > Permissions > Permission Hierarchy).
    pub(super) fn guild_permissions(&self) -> u64 {
        let p = self
            .roles
            .iter()
            .filter(|r| r.id == GUILD || self.bot_roles.contains(&r.id))
            .fold(0, |p, r| p | r.permissions);
        if p & perm::ADMINISTRATOR != 0 {
            u64::MAX
        } else {
            p
        }
    }

    /// The bot's permissions in a channel: @everyone's overwrite, then its roles', then its
    /// member overwrite (Topics > Permissions > Permission Overwrites).
    pub(super) fn channel_permissions(&self, channel: &Channel) -> u64 {
        let mut p = self.guild_permissions();
        if p == u64::MAX {
            return p;
        }
        let of = |pred: &dyn Fn(&Value) -> bool| {
            channel
                .overwrites
                .iter()
                .filter(|o| pred(o))
                .fold((0, 0), |(a, d), o| {
                    (a | bits(&o["allow"]), d | bits(&o["deny"]))
                })
        };
        let (a, d) = of(&|o| o["id"] == GUILD);
        p = (p & !d) | a;
        let (a, d) = of(&|o| o["type"] == 0 && self.bot_roles.iter().any(|r| o["id"] == *r));
        p = (p & !d) | a;
        let (a, d) = of(&|o| o["type"] == 1 && o["id"] == BOT_ID);
        (p & !d) | a
    }

    pub(super) fn can(&self, channel: &Channel, needed: u64) -> bool {
        self.channel_permissions(channel) & needed == needed
    }
}

/// Resources > Message > Create Message and Embed Limits; Interactions > Message
/// Components. `None` when Discord would accept the message.
pub(super) fn message_problem(body: &Value, attachment: bool) -> Option<Response> {
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    if len(&body["content"]) > 2000 {
        return Some(invalid(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    let embeds = body["embeds"].as_array().cloned().unwrap_or_default();
    if embeds.len() > 10 {
        return Some(invalid(
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        ));
    }
    let mut total = 0;
    for e in &embeds {
        let fields = e["fields"].as_array().cloned().unwrap_or_default();
        let checks = [
            ("embeds.0.title", len(&e["title"]), 256),
            ("embeds.0.description", len(&e["description"]), 4096),
            ("embeds.0.footer.text", len(&e["footer"]["text"]), 2048),
            ("embeds.0.author.name", len(&e["author"]["name"]), 256),
            ("embeds.0.fields", fields.len(), 25),
        ];
        for (field, n, max) in checks {
            if n > max {
                return Some(invalid(
                    field,
                    "BASE_TYPE_MAX_LENGTH",
                    &format!("Must be {max} or fewer in length."),
                ));
            }
        }
        for f in &fields {
            if len(&f["name"]) > 256
                || len(&f["value"]) > 1024
                || len(&f["name"]) == 0
                || len(&f["value"]) == 0
            {
                return Some(invalid(
                    "embeds.0.fields.0",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1024 in length.",
                ));
            }
            total += len(&f["name"]) + len(&f["value"]);
        }
        total += len(&e["title"])
            + len(&e["description"])
            + len(&e["footer"]["text"])
            + len(&e["author"]["name"]);
    }
    if total > 6000 {
        return Some(invalid(
            "embeds",
            "MESSAGE_EMBED_TOO_LONG",
            "Embed size exceeds maximum size of 6000",
        ));
    }
    let rows = body["components"].as_array().cloned().unwrap_or_default();
    if rows.len() > 5 {
        return Some(invalid(
            "components",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        ));
    }
    for row in &rows {
        let buttons = row["components"].as_array().cloned().unwrap_or_default();
        if buttons.len() > 5 || buttons.is_empty() {
            return Some(invalid(
                "components.0.components",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            ));
        }
        for b in &buttons {
            if len(&b["label"]) > 80 || len(&b["custom_id"]) > 100 {
                return Some(invalid(
                    "components.0.components.0",
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 80 or fewer in length.",
                ));
            }
        }
    }
    let empty = len(&body["content"]) == 0 && embeds.is_empty() && rows.is_empty() && !attachment;
    // Resources > Message > Create Message: one of content, embeds, components or files.
    empty.then(|| {
        error(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        )
    })
}

/// Resources > Channel > Channel Object: a name of 1 to 100 characters, a topic of at most
/// 1024.
pub(super) fn name_topic_problem(body: &Value) -> Option<Response> {
    if let Some(name) = body.get("name") {
        let n = name.as_str().map_or(0, |s| s.chars().count());
        if !(1..=100).contains(&n) {
            return Some(invalid(
                "name",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            ));
        }
    }
    if body["topic"]
        .as_str()
        .is_some_and(|t| t.chars().count() > 1024)
    {
        return Some(invalid(
            "topic",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 1024 or fewer in length.",
        ));
    }
    None
}

impl Inner {
    /// Whether `parent` may take one more channel: an existing category of this guild with
    /// fewer than 50 channels.
    pub(super) fn parent_problem(
        &self,
        parent: Option<&str>,
        moving: Option<&str>,
    ) -> Option<Response> {
        let parent = parent?;
        if !self.channels.iter().any(|c| c.id == parent && c.kind == 4) {
            return Some(invalid(
                "parent_id",
                "CHANNEL_PARENT_INVALID",
                "Category does not exist",
            ));
        }
        let children = self
            .channels
            .iter()
            .filter(|c| c.parent_id.as_deref() == Some(parent) && Some(c.id.as_str()) != moving)
            .count();
        // Resources > Guild > Create Guild Channel (and Modify Channel's `parent_id`): a
        // category with 50 channels refuses another, as 50035 on `parent_id`.
        (children >= CATEGORY_CAP).then(|| {
            invalid(
                "parent_id",
                "CHANNEL_PARENT_MAX_CHANNELS",
                "Maximum number of channels in category reached (50)",
            )
        })
    }

    /// Applies the name/topic bucket to an edit of `channel` now; a 429 when it is spent.
    pub(super) fn topic_bucket(&mut self, channel: &str) -> Option<Response> {
        if !self.topic_bucket {
            return None;
        }
        let now = self.now();
        let edits = self.topic_edits.entry(channel.to_owned()).or_default();
        edits.retain(|t| now.duration_since(*t) < TOPIC_WINDOW);
        if edits.len() < TOPIC_EDITS {
            edits.push(now);
            return None;
        }
        let wait = TOPIC_WINDOW.saturating_sub(now.duration_since(edits[0]));
        Some(rate_limited(wait.as_secs_f64(), "shared"))
    }
}

/// Topics > Rate Limits > Exceeding A Rate Limit: 429 with `retry_after` in the body and the
/// `Retry-After` header (whole seconds).
pub(super) fn rate_limited(retry_after: f64, scope: &'static str) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({
            "message": "You are being rate limited.", "retry_after": retry_after, "global": false
        })),
    )
        .into_response();
    let secs = format!("{}", retry_after.ceil().max(0.0));
    if let Ok(v) = HeaderValue::from_str(&secs) {
        r.headers_mut().insert("retry-after", v);
    }
    r.headers_mut()
        .insert("x-ratelimit-scope", HeaderValue::from_static(scope));
    r
}

/// How long the fake remembers an enforced nonce ("the past few minutes").
pub(super) const NONCE_WINDOW: std::time::Duration = std::time::Duration::from_secs(180);

/// Resources > Message > Create Message: `nonce` "can be used to verify a message was sent
/// (up to 25 characters)"; with `enforce_nonce` "it will be checked for uniqueness in the past
/// few minutes. If another message was created by the same author with the same nonce, that
/// message will be returned and no new message will be created" (the fake takes "a few
/// minutes" as [`NONCE_WINDOW`], on its own clock). The nonce, if any, as a string.
pub(super) fn nonce(body: &Value) -> Option<String> {
    match &body["nonce"] {
        Value::String(n) => Some(n.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A nonce longer than 25 characters is refused.
pub(super) fn nonce_problem(body: &Value) -> Option<Response> {
    nonce(body)
        .is_some_and(|n| n.chars().count() > 25)
        .then(|| {
            invalid(
                "nonce",
                "BASE_TYPE_BAD_LENGTH",
                "Must be 25 or fewer in length.",
            )
        })
}
