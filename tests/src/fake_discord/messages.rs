//! The fake Discord's message routes: create, edit and pin, refusing what Discord refuses
//! (each rule cites its page of discord.com/developers/docs, as in `rest.rs`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::rest::message_json;
use super::rules::*;
use super::{BOT_ID, Inner, perm};

/// Resources > Message > Create Message: needs VIEW_CHANNEL and SEND_MESSAGES (and
/// ATTACH_FILES for files). A role mention pings only if the role is mentionable or the bot
/// has MENTION_EVERYONE (Resources > Message > Allowed Mentions Object), which
/// `mention_roles` reports.
pub(super) fn create_message(i: &mut Inner, c: &str, body: &Value) -> Response {
    match super::direct::check(i, c) {
        super::direct::Dm::Closed => return super::direct::refused(),
        super::direct::Dm::Open => return create_in(i, c, body, false, false),
        super::direct::Dm::No => {}
    }
    let Some(ch) = i.channel(c).cloned() else {
        return unknown_channel();
    };
    let files = body["files"].as_array().is_some_and(|f| !f.is_empty());
    let needed =
        perm::VIEW_CHANNEL | perm::SEND_MESSAGES | if files { perm::ATTACH_FILES } else { 0 };
    if ch.kind != 0 || !i.can(&ch, needed) {
        return if ch.kind != 0 {
            error(
                StatusCode::BAD_REQUEST,
                50008,
                "Cannot send messages in a non-text channel",
            )
        } else {
            missing_permissions()
        };
    }
    let everyone = i.channel_permissions(&ch) & perm::MENTION_EVERYONE != 0;
    create_in(i, c, body, files, everyone)
}

/// A message made in channel `c` (a guild text channel or a DM) once it may be: the message
/// limits, the nonce, the role mentions that ping.
pub(super) fn create_in(
    i: &mut Inner,
    c: &str,
    body: &Value,
    files: bool,
    everyone: bool,
) -> Response {
    if let Some(r) = message_problem(body, files) {
        return r;
    }
    if let Some(r) = nonce_problem(body) {
        return r;
    }
    let nonce = nonce(body);
    let now = i.now();
    if body["enforce_nonce"] == true
        && let Some(n) = &nonce
        && let Some((first, at)) = i.nonces.get(n)
        && now.duration_since(*at) < NONCE_WINDOW
        && let Some(m) = i.messages.get(first)
    {
        return axum::Json(m.clone()).into_response();
    }
    let content = body["content"].as_str().unwrap_or("");
    let pinged: Vec<String> = body["allowed_mentions"]["roles"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.as_str())
        .filter(|r| content.contains(&format!("<@&{r}>")))
        .filter(|r| everyone || i.roles.iter().any(|x| x.id == *r && x.mentionable))
        .map(str::to_owned)
        .collect();
    let id = i.id();
    let mut m = message_json(&id, c, body);
    m["mention_roles"] = json!(pinged);
    if let Some(n) = nonce {
        m["nonce"] = json!(n);
        i.nonces.insert(n, (id.clone(), now));
    }
    i.messages.insert(id, m.clone());
    axum::Json(m).into_response()
}

/// Resources > Message > Edit Message: only the bot's own messages (50005), existing ones
/// in that channel (10008), within the same limits as a new message.
pub(super) fn edit_message(i: &mut Inner, c: &str, m: &str, body: &Value) -> Response {
    if i.channel(c).is_none() {
        return unknown_channel();
    }
    let Some(old) = i.messages.get(m).filter(|x| x["channel_id"] == c).cloned() else {
        return unknown_message();
    };
    if old["author"]["id"] != BOT_ID {
        return error(
            StatusCode::FORBIDDEN,
            50005,
            "Cannot edit a message authored by another user",
        );
    }
    if let Some(r) = message_problem(body, false) {
        return r;
    }
    let mut new = message_json(m, c, body);
    new["pinned"] = old["pinned"].clone();
    i.messages.insert(m.to_owned(), new.clone());
    axum::Json(new).into_response()
}

/// Resources > Message > Pin Message: needs PIN_MESSAGES (split from MANAGE_MESSAGES in the
/// change log of 2026-02-23), a message in that channel, and room (50 pins, 30003).
pub(super) fn pin(i: &mut Inner, c: &str, m: &str) -> Response {
    let Some(ch) = i.channel(c).cloned() else {
        return unknown_channel();
    };
    if !i.can(&ch, perm::PIN_MESSAGES) {
        return missing_permissions();
    }
    if !i.messages.get(m).is_some_and(|x| x["channel_id"] == c) {
        return unknown_message();
    }
    let pins = i.pins.entry(c.to_owned()).or_default();
    if !pins.iter().any(|p| p == m) {
        if pins.len() >= PIN_CAP {
            return error(
                StatusCode::BAD_REQUEST,
                30003,
                "Maximum number of pins reached (50)",
            );
        }
        pins.push(m.to_owned());
    }
    if let Some(x) = i.messages.get_mut(m) {
        x["pinned"] = json!(true);
    }
    StatusCode::NO_CONTENT.into_response()
}
