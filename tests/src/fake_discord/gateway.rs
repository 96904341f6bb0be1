//! The fake Discord's gateway WebSocket, and the interaction and event payloads tests send
//! through it, in Discord's shapes.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::rest::{message_json, user};
use super::{APPLICATION_ID, BOT_ID, GENERAL, GUILD, Inner, PAGING, TOKEN};

/// Tells a connection to go away without a close frame.
pub(super) const DROP: &str = "\u{0}drop";

/// The privileged intents (Topics > Gateway > Privileged Intents): GUILD_MEMBERS,
/// GUILD_PRESENCES and MESSAGE_CONTENT.
const PRIVILEGED: u64 = (1 << 1) | (1 << 8) | (1 << 15);

pub(super) async fn gateway(
    ws: axum::extract::ws::WebSocketUpgrade,
    State(inner): State<Arc<Mutex<Inner>>>,
) -> Response {
    ws.on_upgrade(move |socket| connection(socket, inner))
}

/// One gateway connection. Several may be open at once (serenity opens the new one before
/// closing the old on RECONNECT); dispatches go to the newest.
async fn connection(socket: axum::extract::ws::WebSocket, inner: Arc<Mutex<Inner>>) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt as _, StreamExt as _};
    let (mut to_klaxon, mut from_klaxon) = socket.split();
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": 41250 } });
    if to_klaxon
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let lock = || inner.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(frame) if frame == DROP => break,
                Some(frame) => {
                    if to_klaxon.send(Message::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            incoming = from_klaxon.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    match frame["op"].as_u64() {
                        Some(1) => {
                            let _ = tx.send(json!({ "op": 11 }).to_string());
                        }
                        Some(2) => {
                            // serenity sends the token as it sends it over REST, `Bot …`; Discord takes both.
                            let token = frame["d"]["token"].as_str().unwrap_or("");
                            let ok = token.trim_start_matches("Bot ") == TOKEN;
                            // Topics > Opcodes and Status Codes > Gateway Close Event Codes:
                            // 4004 Authentication failed, 4014 Disallowed intent(s).
                            let intents = frame["d"]["intents"].as_u64().unwrap_or(0);
                            let refusal = if !ok {
                                Some((4004, "Authentication failed."))
                            } else if intents & PRIVILEGED != 0 && !lock().privileged_intents {
                                Some((4014, "Disallowed intent(s)."))
                            } else {
                                None
                            };
                            if let Some((code, reason)) = refusal {
                                lock().closes.push(code);
                                let _ = to_klaxon
                                    .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                                        code,
                                        reason: reason.into(),
                                    })))
                                    .await;
                                break;
                            }
                            let mut i = lock();
                            i.identifies += 1;
                            i.intents = frame["d"]["intents"].as_u64();
                            i.seq += 1;
                            let ready = json!({
                                "op": 0, "t": "READY", "s": i.seq,
                                "d": {
                                    "v": 10, "user": user(BOT_ID, "klaxon"),
                                    "guilds": [{ "id": GUILD, "unavailable": true }],
                                    "session_id": "fake-session-1",
                                    "resume_gateway_url": format!("ws://{}/gateway", i.base),
                                    "application": { "id": APPLICATION_ID, "flags": 0 },
                                    "shard": [0, 1],
                                    "private_channels": [], "relationships": [], "presences": [],
                                    "user_settings": {}, "geo_ordered_rtc_regions": []
                                }
                            });
                            i.gateway = Some(tx.clone());
                            let _ = tx.send(ready.to_string());
                        }
                        Some(6) => {
                            let mut i = lock();
                            i.resumes += 1;
                            i.seq += 1;
                            let resumed = json!({ "op": 0, "t": "RESUMED", "s": i.seq, "d": {} });
                            i.gateway = Some(tx.clone());
                            let _ = tx.send(resumed.to_string());
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// A member of the fake guild, as interactions carry them.
pub fn member(id: &str, name: &str) -> Value {
    json!({
        "user": user(id, name), "nick": null, "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00",
        "deaf": false, "mute": false, "flags": 0, "pending": false, "permissions": "2248473465835073"
    })
}

fn base_interaction(id: &str, kind: u8, user_id: &str, channel: &str) -> Value {
    json!({
        "id": id, "application_id": APPLICATION_ID, "type": kind, "guild_id": GUILD,
        "channel_id": channel, "channel": { "id": channel, "name": channel_name(channel), "type": 0 },
        "member": member(user_id, &format!("user{}", &user_id[user_id.len().saturating_sub(2)..])),
        "token": format!("token-{id}"), "version": 1, "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "attachment_size_limit": 8_388_608,
        "authorizing_integration_owners": { "0": GUILD }, "context": 0,
        "app_permissions": "2248473465835073"
    })
}

fn channel_name(id: &str) -> &'static str {
    match id {
        PAGING => "incidents",
        GENERAL => "general",
        _ => "",
    }
}

/// `/inc <sub> …`: `options` are the subcommand's options, e.g. `[{"name":"title","type":3,"value":"x"}]`.
pub fn slash(id: &str, user_id: &str, channel: &str, sub: &str, options: Value) -> Value {
    let mut i = base_interaction(id, 2, user_id, channel);
    i["data"] = json!({
        "id": "500000000000000001", "name": "inc", "type": 1, "guild_id": GUILD,
        "options": [{ "name": sub, "type": 1, "options": options }]
    });
    i
}

/// `/inc <group> <sub> …`.
pub fn slash_group(
    id: &str,
    user_id: &str,
    channel: &str,
    group: &str,
    sub: &str,
    options: Value,
) -> Value {
    let mut i = base_interaction(id, 2, user_id, channel);
    i["data"] = json!({
        "id": "500000000000000001", "name": "inc", "type": 1, "guild_id": GUILD,
        "options": [{ "name": group, "type": 2, "options": [{ "name": sub, "type": 1, "options": options }] }]
    });
    i
}

/// A click on a button with this custom id, under message `message` in `channel`.
pub fn click(id: &str, user_id: &str, channel: &str, custom_id: &str, message: &str) -> Value {
    let mut i = base_interaction(id, 3, user_id, channel);
    i["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    i["message"] = message_json(message, channel, &json!({}));
    i
}

/// A modal submitted with one text input.
pub fn submit(
    id: &str,
    user_id: &str,
    channel: &str,
    custom_id: &str,
    field: &str,
    value: &str,
) -> Value {
    let mut i = base_interaction(id, 5, user_id, channel);
    i["data"] = json!({
        "custom_id": custom_id,
        "components": [{ "type": 1, "components": [{ "type": 4, "custom_id": field, "value": value }] }]
    });
    i
}

/// A PING sent to the HTTP endpoint.
pub fn ping(id: &str) -> Value {
    json!({ "id": id, "application_id": APPLICATION_ID, "type": 1, "token": format!("token-{id}"), "version": 1 })
}

/// "Add to timeline" on `message` (a message command, type 3).
pub fn add_to_timeline(id: &str, user_id: &str, channel: &str, message: &Value) -> Value {
    let mut i = base_interaction(id, 2, user_id, channel);
    let target = message["id"].clone();
    let mut messages = serde_json::Map::new();
    messages.insert(target.as_str().unwrap_or("").to_owned(), message.clone());
    i["data"] = json!({
        "id": "500000000000000002", "name": "Add to timeline", "type": 3, "guild_id": GUILD,
        "target_id": target, "resolved": { "messages": messages }
    });
    i
}

/// A MESSAGE_REACTION_ADD / _REMOVE payload.
pub fn reaction(user_id: &str, channel: &str, message: &str, emoji: &str) -> Value {
    json!({
        "user_id": user_id, "channel_id": channel, "message_id": message, "guild_id": GUILD,
        "member": member(user_id, "reactor"), "emoji": { "id": null, "name": emoji },
        "burst": false, "type": 0
    })
}
