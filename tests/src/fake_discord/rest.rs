//! The fake Discord's REST API, under `/api/v10`, refusing what Discord refuses. Each rule
//! cites the page of Discord's developer documentation (discord.com/developers/docs) it comes
//! from; the error codes are those of Topics > Opcodes and Status Codes > JSON Error Codes.
//! The limits and the checks of what Klaxon sends are in `rules.rs`, the message routes in
//! `messages.rs`; the routing is here.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{FromRequest as _, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::messages::{create_message, edit_message, pin};
use super::rules::*;
use super::{APPLICATION_ID, BOT_ID, Call, Channel, GUILD, Inner, TOKEN, perm};

pub(super) fn user(id: &str, name: &str) -> Value {
    json!({
        "id": id, "username": name, "global_name": name, "discriminator": "0",
        "avatar": null, "bot": id == BOT_ID, "public_flags": 0
    })
}

pub(super) fn channel_json(c: &Channel) -> Value {
    json!({
        "id": c.id, "type": c.kind, "guild_id": GUILD, "name": c.name, "position": 0,
        "permission_overwrites": c.overwrites, "nsfw": false, "topic": c.topic,
        "parent_id": c.parent_id, "last_message_id": null, "rate_limit_per_user": 0,
        "flags": 0
    })
}

pub(super) fn message_json(id: &str, channel: &str, body: &Value) -> Value {
    json!({
        "id": id, "channel_id": channel, "guild_id": GUILD, "author": user(BOT_ID, "klaxon"),
        "content": body["content"].as_str().unwrap_or(""), "timestamp": "2026-11-23T09:00:00.000000+00:00",
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": body["embeds"].as_array().cloned().unwrap_or_default(),
        "pinned": false, "type": 0, "flags": 0,
        "components": body["components"].as_array().cloned().unwrap_or_default()
    })
}

/// A message a person posted.
pub fn user_message(id: &str, channel: &str, author: &str, content: &str, at: &str) -> Value {
    let mut m = message_json(id, channel, &json!({ "content": content }));
    m["author"] = user(
        author,
        &format!("user{}", &author[author.len().saturating_sub(2)..]),
    );
    m["timestamp"] = json!(at);
    m
}

/// The JSON of a request: the body, or a multipart upload's `payload_json` with the files'
/// names and contents under `files`.
async fn body_of(req: Request) -> Value {
    let is_multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_multipart {
        let Ok(mut form) = axum::extract::Multipart::from_request(req, &()).await else {
            return Value::Null;
        };
        let mut payload = json!({});
        let mut files = Vec::new();
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or("").to_owned();
            let filename = field.file_name().map(str::to_owned);
            let text = field.text().await.unwrap_or_default();
            if name == "payload_json" {
                payload = serde_json::from_str(&text).unwrap_or(Value::Null);
            } else {
                files.push(json!({ "field": name, "filename": filename, "content": text }));
            }
        }
        payload["files"] = Value::Array(files);
        payload
    } else {
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

/// The segments of a path that must be ids, by the segment before them.
const ID_AFTER: [&str; 9] = [
    "channels",
    "guilds",
    "messages",
    "pins",
    "permissions",
    "applications",
    "members",
    "interactions",
    "roles",
];

/// Carries out the call, then holds a stalled call's answer back for good.
pub(super) async fn stall(
    State(inner): State<Arc<Mutex<Inner>>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().trim_start_matches("/api/v10").to_owned();
    let response = next.run(req).await;
    let stalled = inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .stalled
        .iter()
        .any(|(m, pattern)| *m == method && super::matches(pattern, &path));
    if stalled {
        std::future::pending::<()>().await;
    }
    response
}

pub(super) async fn rest(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().trim_start_matches("/api/v10").to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Interactions > Receiving and Responding: responses and follow-ups use the interaction
    // token, not the bot token.
    let interaction_route = path.starts_with("/interactions/") || path.starts_with("/webhooks/");
    if !interaction_route && auth.as_deref() != Some(&format!("Bot {TOKEN}")) {
        return error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
    }
    let body = body_of(req).await;
    let latency = inner.lock().unwrap_or_else(PoisonError::into_inner).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    if path != "/gateway"
        && !interaction_route
        && let Some((status, wait)) = i.forced.pop_front()
    {
        return if status == 429 {
            rate_limited(0.05, "user")
        } else {
            // Topics > Opcodes and Status Codes > HTTP: "502 Gateway Unavailable … wait a bit
            // and retry", "5xx: the server had an error processing your request". A 503 may
            // say when to come back with `Retry-After` (RFC 9110 §15.6.4, §10.2.3).
            let mut r = error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                0,
                "Internal Server Error",
            );
            if let Some(secs) = wait
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                r.headers_mut().insert("retry-after", v);
            }
            r
        };
    }
    let seg: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect();
    // Reference > Snowflakes: a name where an id belongs is refused as an invalid form body.
    for pair in seg.windows(2) {
        let exempt = pair[1].starts_with('@') || (pair[0] == "messages" && pair[1] == "pins");
        if ID_AFTER.contains(&pair[0].as_str()) && !exempt && !is_snowflake(&pair[1]) {
            let field = format!("{}_id", pair[0].trim_end_matches('s'));
            return invalid(
                &field,
                "NUMBER_TYPE_COERCE",
                &format!("Value \"{}\" is not snowflake.", pair[1]),
            );
        }
    }
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let response = route(&mut i, &method, &seg, &body);
    if response.status().is_success() {
        i.calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
            body,
            at: std::time::Instant::now(),
        });
    }
    response
}

fn route(i: &mut Inner, method: &Method, seg: &[&str], body: &Value) -> Response {
    match (method, seg) {
        (&Method::GET, ["gateway"]) => {
            axum::Json(json!({ "url": format!("ws://{}/gateway", i.base) })).into_response()
        }
        (&Method::GET, ["users", "@me"]) => axum::Json(user(BOT_ID, "klaxon")).into_response(),
        (&Method::POST, ["users", "@me", "channels"]) => super::direct::open(i, body),
        (_, ["applications", app, ..]) if *app != APPLICATION_ID => {
            error(StatusCode::FORBIDDEN, 50001, "Missing Access")
        }
        (&Method::PUT, ["applications", _, "guilds", g, "commands"]) => register(i, g, body),
        (&Method::PUT, ["applications", _, "commands"]) => register(i, "global", body),
        (&Method::GET, ["applications", _, "guilds", g, "commands"]) => axum::Json(Value::Array(
            i.commands.get(*g).cloned().unwrap_or_default(),
        ))
        .into_response(),
        (&Method::GET, ["applications", _, "commands"]) => axum::Json(Value::Array(
            i.commands.get("global").cloned().unwrap_or_default(),
        ))
        .into_response(),
        (_, ["guilds", g, ..]) if *g != GUILD => {
            error(StatusCode::NOT_FOUND, 10004, "Unknown Guild")
        }
        (&Method::GET, ["guilds", _]) => axum::Json(guild_json(i)).into_response(),
        (&Method::GET, ["guilds", _, "roles"]) => axum::Json(roles_json(i)).into_response(),
        (&Method::GET, ["guilds", _, "members", u]) => {
            if *u != BOT_ID {
                return error(StatusCode::NOT_FOUND, 10007, "Unknown Member");
            }
            let mut m = super::member(BOT_ID, "klaxon");
            m["roles"] = json!(i.bot_roles);
            axum::Json(m).into_response()
        }
        (&Method::GET, ["guilds", _, "channels"]) => {
            axum::Json(Value::Array(i.channels.iter().map(channel_json).collect())).into_response()
        }
        (&Method::POST, ["guilds", _, "channels"]) => create_channel(i, body),
        (&Method::GET, ["channels", c]) => match i.channel(c) {
            Some(ch) => axum::Json(channel_json(ch)).into_response(),
            None => unknown_channel(),
        },
        (&Method::PATCH, ["channels", c]) => modify_channel(i, c, body),
        (&Method::PUT, ["channels", c, "permissions", o]) => {
            let Some(ch) = i.channel(c).cloned() else {
                return unknown_channel();
            };
            // Resources > Channel > Edit Channel Permissions: needs MANAGE_ROLES, and only
            // permissions the bot has may be allowed or denied.
            let mine = i.channel_permissions(&ch);
            let asked = bits(&body["allow"]) | bits(&body["deny"]);
            if i.guild_permissions() & perm::MANAGE_ROLES == 0 || asked & !mine != 0 {
                return missing_permissions();
            }
            if let Some(ch) = i.channels.iter_mut().find(|x| x.id == *c) {
                ch.overwrites.retain(|x| x["id"] != *o);
                let mut ow = body.clone();
                ow["id"] = json!(o);
                ch.overwrites.push(ow);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (&Method::POST, ["channels", c, "messages"]) => create_message(i, c, body),
        (&Method::GET, ["channels", c, "messages", m]) => match i.messages.get(*m) {
            Some(message) if message["channel_id"] == *c => {
                axum::Json(message.clone()).into_response()
            }
            _ => unknown_message(),
        },
        (&Method::PATCH, ["channels", c, "messages", m]) => edit_message(i, c, m, body),
        (&Method::PUT, ["channels", c, "pins", m] | ["channels", c, "messages", "pins", m]) => {
            pin(i, c, m)
        }
        (&Method::POST, ["interactions", id, token, "callback"]) => callback(i, id, token, body),
        (&Method::PATCH, ["webhooks", _, token, "messages", "@original"]) => {
            if let Some(r) = expired(i, token) {
                return r;
            }
            if let Some(r) = message_problem(body, false) {
                return r;
            }
            let id = i.id();
            let m = message_json(&id, super::GENERAL, body);
            i.messages.insert(id, m.clone());
            axum::Json(m).into_response()
        }
        (&Method::POST, ["webhooks", _, token]) => {
            if let Some(r) = expired(i, token).or_else(|| message_problem(body, false)) {
                return r;
            }
            let id = i.id();
            axum::Json(message_json(&id, super::GENERAL, body)).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, 0, "404: Not Found"),
    }
}

/// Interactions > Application Commands > Bulk Overwrite: names of 1 to 32 characters,
/// descriptions of at most 100, at most 25 options.
fn register(i: &mut Inner, scope: &str, body: &Value) -> Response {
    let list = body.as_array().cloned().unwrap_or_default();
    for c in &list {
        let name = c["name"].as_str().map_or(0, |s| s.chars().count());
        if !(1..=32).contains(&name)
            || c["description"]
                .as_str()
                .is_some_and(|d| d.chars().count() > 100)
            || c["options"].as_array().is_some_and(|o| o.len() > 25)
        {
            return invalid(
                "0",
                "APPLICATION_COMMAND_INVALID",
                "Invalid application command",
            );
        }
    }
    let list: Vec<Value> = list
        .into_iter()
        .enumerate()
        .map(|(n, mut c)| {
            c["id"] = json!(format!("5000000000000000{:02}", n + 1));
            c["application_id"] = json!(APPLICATION_ID);
            c["version"] = json!("1");
            c["default_member_permissions"] = Value::Null;
            c["type"] = c.get("type").cloned().unwrap_or(json!(1));
            c["description"] = c.get("description").cloned().unwrap_or(json!(""));
            c
        })
        .collect();
    i.commands.insert(scope.to_owned(), list.clone());
    axum::Json(Value::Array(list)).into_response()
}

fn roles_json(i: &Inner) -> Value {
    Value::Array(
        i.roles
            .iter()
            .enumerate()
            .map(|(n, r)| {
                json!({
                    "id": r.id, "name": r.name, "color": 0, "hoist": false, "position": n,
                    "permissions": r.permissions.to_string(), "managed": r.id == super::BOT_ROLE,
                    "mentionable": r.mentionable, "flags": 0
                })
            })
            .collect(),
    )
}

fn guild_json(i: &Inner) -> Value {
    json!({
        "id": GUILD, "name": "Klaxon test guild", "icon": null, "splash": null,
        "discovery_splash": null, "owner_id": "100000000000000001", "afk_channel_id": null,
        "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
        "explicit_content_filter": 0, "roles": roles_json(i), "emojis": [], "features": [],
        "mfa_level": 0, "application_id": null, "system_channel_id": null,
        "system_channel_flags": 0, "rules_channel_id": null, "vanity_url_code": null,
        "description": null, "banner": null, "premium_tier": 0,
        "preferred_locale": "en-US", "public_updates_channel_id": null, "nsfw_level": 0,
        "premium_progress_bar_enabled": false, "stickers": []
    })
}

/// Resources > Guild > Create Guild Channel: needs MANAGE_CHANNELS; overwrites may only
/// allow or deny what the bot has; a parent must be a category with room; 500 channels at
/// most (30013).
fn create_channel(i: &mut Inner, body: &Value) -> Response {
    if let Some(r) = name_topic_problem(body) {
        return r;
    }
    if body.get("name").is_none() {
        return invalid("name", "BASE_TYPE_REQUIRED", "This field is required");
    }
    let mine = i.guild_permissions();
    if mine & perm::MANAGE_CHANNELS == 0 {
        return missing_permissions();
    }
    let overwrites = body["permission_overwrites"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if overwrites
        .iter()
        .any(|o| (bits(&o["allow"]) | bits(&o["deny"])) & !mine != 0)
    {
        return missing_permissions();
    }
    let kind = u8::try_from(body["type"].as_u64().unwrap_or(0)).unwrap_or(u8::MAX);
    if kind != 0 && kind != 4 {
        return invalid("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 4}.");
    }
    let parent = body["parent_id"].as_str();
    if kind == 4 && parent.is_some() {
        return invalid(
            "parent_id",
            "CHANNEL_PARENT_INVALID",
            "A category cannot have a parent",
        );
    }
    if let Some(r) = i.parent_problem(parent, None) {
        return r;
    }
    if i.channels.len() >= GUILD_CAP {
        return error(
            StatusCode::BAD_REQUEST,
            30013,
            "Maximum number of guild channels reached (500)",
        );
    }
    let id = i.id();
    let channel = Channel {
        id,
        name: body["name"].as_str().unwrap_or("").to_owned(),
        kind,
        topic: body["topic"].as_str().map(str::to_owned),
        parent_id: parent.map(str::to_owned),
        overwrites,
    };
    let json = channel_json(&channel);
    i.channels.push(channel);
    (StatusCode::CREATED, axum::Json(json)).into_response()
}

/// Resources > Channel > Modify Channel: needs MANAGE_CHANNELS; name and topic edits are
/// held to the 2-per-10-minutes bucket; a new parent must have room.
fn modify_channel(i: &mut Inner, c: &str, body: &Value) -> Response {
    let Some(ch) = i.channel(c).cloned() else {
        return unknown_channel();
    };
    if !i.can(&ch, perm::MANAGE_CHANNELS) {
        return missing_permissions();
    }
    if let Some(r) = name_topic_problem(body) {
        return r;
    }
    let parent = body.get("parent_id").map(|p| p.as_str());
    if let Some(Some(p)) = parent
        && ch.parent_id.as_deref() != Some(p)
        && let Some(r) = i.parent_problem(Some(p), Some(c))
    {
        return r;
    }
    if (body.get("name").is_some() || body.get("topic").is_some())
        && let Some(r) = i.topic_bucket(c)
    {
        return r;
    }
    let Some(ch) = i.channels.iter_mut().find(|x| x.id == c) else {
        return unknown_channel();
    };
    if let Some(t) = body.get("topic") {
        ch.topic = t.as_str().map(str::to_owned);
    }
    if let Some(n) = body["name"].as_str() {
        n.clone_into(&mut ch.name);
    }
    if let Some(p) = parent {
        ch.parent_id = p.map(str::to_owned);
    }
    axum::Json(channel_json(ch)).into_response()
}

/// Interactions > Receiving and Responding > Create Interaction Response: once (40060 after),
/// within 3 s of the interaction (10062 after), for a known interaction (10062).
fn callback(i: &mut Inner, id: &str, token: &str, body: &Value) -> Response {
    let now = i.now();
    let Some(x) = i.interactions.get_mut(token).filter(|x| x.id == id) else {
        return error(StatusCode::NOT_FOUND, 10062, "Unknown interaction");
    };
    if x.responded {
        return error(
            StatusCode::BAD_REQUEST,
            40060,
            "Interaction has already been acknowledged.",
        );
    }
    if now.duration_since(x.created) > FIRST_RESPONSE {
        return error(StatusCode::NOT_FOUND, 10062, "Unknown interaction");
    }
    x.responded = true;
    if let Some(waiting) = i.waiting.remove(id) {
        let _ = waiting.send(body.clone());
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Interactions > Receiving and Responding > Followup Messages: the token works for 15
/// minutes; after that (or for a token Discord never issued) 401 Invalid Webhook Token.
fn expired(i: &Inner, token: &str) -> Option<Response> {
    let now = i.now();
    let valid = i
        .interactions
        .get(token)
        .is_some_and(|x| now.duration_since(x.created) <= TOKEN_LIFETIME);
    (!valid).then(|| error(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token"))
}
