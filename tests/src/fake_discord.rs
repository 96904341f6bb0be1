//! A fake Discord on 127.0.0.1: REST under `/api/v10` with Discord's real response shapes and
//! error codes (404 `Unknown Channel` 10003, 429 with `retry_after`, 401 without the bot
//! token), and a gateway WebSocket that speaks the real opcodes: HELLO, IDENTIFY, READY,
//! heartbeats and their ACKs, dispatches with sequence numbers, RECONNECT, RESUME/RESUMED.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest as _, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

/// The bot token the fake accepts.
pub const TOKEN: &str = "fake-discord-token.klaxon.test";
pub const APPLICATION_ID: &str = "900000000000000001";
/// The bot's user id (the application's, as for every modern Discord app).
pub const BOT_ID: &str = "900000000000000001";
pub const GUILD: &str = "800000000000000001";
/// The paging channel that exists from the start.
pub const PAGING: &str = "700000000000000001";
/// A general channel people type in.
pub const GENERAL: &str = "700000000000000002";

/// One REST call as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    /// The path after `/api/v10`.
    pub path: String,
    pub body: Value,
    pub at: std::time::Instant,
}

/// A channel in the fake guild.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub topic: Option<String>,
    pub parent_id: Option<String>,
    pub overwrites: Vec<Value>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    channels: Vec<Channel>,
    next_id: u64,
    forced: VecDeque<u16>,
    latency: Duration,
    /// Frames to send to the newest gateway connection.
    gateway: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    seq: u64,
    identifies: u32,
    resumes: u32,
    /// Interaction callbacks waiting for Klaxon's first response, by interaction id.
    waiting: std::collections::HashMap<String, tokio::sync::oneshot::Sender<Value>>,
    base: String,
    /// Messages people posted, by id, for `GET /channels/{c}/messages/{m}`.
    messages: std::collections::HashMap<String, Value>,
    /// The intents of the newest IDENTIFY.
    intents: Option<u64>,
}

impl Inner {
    fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{}", 600_000_000_000_000_000u64 + self.next_id)
    }
}

#[derive(Clone)]
pub struct FakeDiscord {
    /// The base URL for `DISCORD_API_URL` (REST lives under `/api/v10` below it).
    pub api_url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeDiscord {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let inner = Arc::new(Mutex::new(Inner {
            base: format!("127.0.0.1:{port}"),
            next_id: 0,
            channels: vec![
                Channel {
                    id: PAGING.into(),
                    name: "incidents".into(),
                    topic: None,
                    parent_id: None,
                    overwrites: Vec::new(),
                },
                Channel {
                    id: GENERAL.into(),
                    name: "general".into(),
                    topic: None,
                    parent_id: None,
                    overwrites: Vec::new(),
                },
            ],
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/api/v10/{*path}", any(rest))
            .route("/gateway", get(gateway))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            api_url: format!("http://127.0.0.1:{port}"),
            inner,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn calls(&self) -> Vec<Call> {
        self.with(|i| i.calls.clone())
    }

    /// Bodies of the calls with this method whose path matches `pattern` (`*` for one
    /// segment), in order.
    pub fn calls_to(&self, method: &str, pattern: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && matches(pattern, &c.path))
            .map(|c| c.body)
            .collect()
    }

    /// The channel with this name, if any.
    pub fn channel_named(&self, name: &str) -> Option<Channel> {
        self.with(|i| i.channels.iter().find(|c| c.name == name).cloned())
    }

    /// A channel that exists already under this name.
    pub fn take_name(&self, name: &str) {
        self.with(|i| {
            let id = i.id();
            i.channels.push(Channel {
                id,
                name: name.into(),
                topic: None,
                parent_id: None,
                overwrites: Vec::new(),
            });
        });
    }

    /// The next REST calls answer with these statuses (429 with `retry_after`, 5xx).
    pub fn force(&self, statuses: impl IntoIterator<Item = u16>) {
        self.with(|i| i.forced.extend(statuses));
    }

    /// Every REST answer waits this long first.
    pub fn set_latency(&self, latency: Duration) {
        self.with(|i| i.latency = latency);
    }

    /// Whether Klaxon holds a gateway connection.
    pub fn connected(&self) -> bool {
        self.with(|i| i.gateway.as_ref().is_some_and(|g| !g.is_closed()))
    }

    /// A message someone posted in `channel`, for Klaxon to read; returns its JSON.
    pub fn add_message(
        &self,
        channel: &str,
        id: &str,
        author: &str,
        content: &str,
        at: &str,
    ) -> Value {
        let m = user_message(id, channel, author, content, at);
        self.with(|i| i.messages.insert(id.to_owned(), m.clone()));
        m
    }

    /// The gateway intents Klaxon identified with.
    pub fn intents(&self) -> Option<u64> {
        self.with(|i| i.intents)
    }

    /// (IDENTIFYs, RESUMEs) received so far.
    pub fn sessions(&self) -> (u32, u32) {
        self.with(|i| (i.identifies, i.resumes))
    }

    /// Waits (up to 10 s) until `check` holds.
    pub async fn until(&self, check: impl Fn(&FakeDiscord) -> bool) -> bool {
        for _ in 0..500 {
            if check(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Sends a dispatch (`op` 0) with the next sequence number.
    pub fn dispatch(&self, event: &str, data: Value) {
        self.with(|i| {
            i.seq += 1;
            let frame = json!({ "op": 0, "t": event, "s": i.seq, "d": data });
            if let Some(g) = &i.gateway {
                let _ = g.send(frame.to_string());
            }
        });
    }

    /// Asks Klaxon to reconnect (op 7), as Discord does before moving a session.
    pub fn request_reconnect(&self) {
        self.with(|i| {
            if let Some(g) = &i.gateway {
                let _ = g.send(json!({ "op": 7, "d": null }).to_string());
            }
        });
    }

    /// Drops the gateway connection without a word, as a network failure does.
    pub fn drop_connection(&self) {
        self.with(|i| {
            if let Some(g) = i.gateway.take() {
                let _ = g.send(DROP.to_owned());
            }
        });
    }

    /// Sends an interaction over the gateway and returns Klaxon's first response (the body of
    /// its callback), waiting up to 10 s.
    pub async fn interact(&self, interaction: Value) -> Value {
        let id = interaction["id"]
            .as_str()
            .expect("interaction id")
            .to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.with(|i| i.waiting.insert(id.clone(), tx));
        self.dispatch("INTERACTION_CREATE", interaction);
        tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .unwrap_or_else(|_| panic!("no response to interaction {id}"))
            .unwrap_or(Value::Null)
    }
}

/// Tells a connection to go away without a close frame.
const DROP: &str = "\u{0}drop";

fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let q: Vec<&str> = path.trim_matches('/').split('/').collect();
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}

fn user(id: &str, name: &str) -> Value {
    json!({
        "id": id, "username": name, "global_name": name, "discriminator": "0",
        "avatar": null, "bot": id == BOT_ID, "public_flags": 0
    })
}

fn error(status: StatusCode, code: u64, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "message": message, "code": code })),
    )
        .into_response()
}

fn channel_json(c: &Channel) -> Value {
    json!({
        "id": c.id, "type": 0, "guild_id": GUILD, "name": c.name, "position": 0,
        "permission_overwrites": c.overwrites, "nsfw": false, "topic": c.topic,
        "parent_id": c.parent_id, "last_message_id": null, "rate_limit_per_user": 0,
        "flags": 0
    })
}

fn message_json(id: &str, channel: &str, body: &Value) -> Value {
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

async fn rest(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().trim_start_matches("/api/v10").to_owned();
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
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
        && let Some(status) = i.forced.pop_front()
    {
        let mut r = if status == 429 {
            (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "message": "You are being rate limited.", "retry_after": 0.05, "global": false
                })),
            )
                .into_response()
        } else {
            error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                0,
                "Internal Server Error",
            )
        };
        if status == 429 {
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            r.headers_mut().insert(
                "x-ratelimit-scope",
                axum::http::HeaderValue::from_static("user"),
            );
        }
        return r;
    }
    i.calls.push(Call {
        method: method.to_string(),
        path: path.clone(),
        body: body.clone(),
        at: std::time::Instant::now(),
    });
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, seg.as_slice()) {
        (&Method::GET, ["gateway"]) => {
            axum::Json(json!({ "url": format!("ws://{}/gateway", i.base) })).into_response()
        }
        (&Method::GET, ["users", "@me"]) => axum::Json(user(BOT_ID, "klaxon")).into_response(),
        (&Method::PUT, ["applications", app, "guilds", _, "commands"])
        | (&Method::PUT, ["applications", app, "commands"]) => {
            if *app != APPLICATION_ID {
                return error(StatusCode::FORBIDDEN, 50001, "Missing Access");
            }
            let list: Vec<Value> = body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut c| {
                    c["id"] = json!(format!("5000000000000000{:02}", 1));
                    c["application_id"] = json!(APPLICATION_ID);
                    c["version"] = json!("1");
                    c["default_member_permissions"] = Value::Null;
                    c["type"] = c.get("type").cloned().unwrap_or(json!(1));
                    c["description"] = c.get("description").cloned().unwrap_or(json!(""));
                    c
                })
                .collect();
            axum::Json(Value::Array(list)).into_response()
        }
        (&Method::GET, ["guilds", g, "channels"]) => {
            if *g != GUILD {
                return error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
            }
            axum::Json(Value::Array(i.channels.iter().map(channel_json).collect())).into_response()
        }
        (&Method::POST, ["guilds", g, "channels"]) => {
            if *g != GUILD {
                return error(StatusCode::NOT_FOUND, 10004, "Unknown Guild");
            }
            let name = body["name"].as_str().unwrap_or("").to_owned();
            let topic = body["topic"].as_str().map(str::to_owned);
            let valid = (1..=100).contains(&name.chars().count())
                && topic.as_ref().is_none_or(|t| t.chars().count() <= 1024);
            if !valid {
                return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
            }
            let id = i.id();
            let channel = Channel {
                id,
                name,
                topic,
                parent_id: body["parent_id"].as_str().map(str::to_owned),
                overwrites: body["permission_overwrites"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            };
            let json = channel_json(&channel);
            i.channels.push(channel);
            (StatusCode::CREATED, axum::Json(json)).into_response()
        }
        (&Method::PATCH, ["channels", c]) => {
            let Some(channel) = i.channels.iter_mut().find(|ch| ch.id == *c) else {
                return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
            };
            if let Some(t) = body["topic"].as_str() {
                channel.topic = Some(t.to_owned());
            }
            let json = channel_json(channel);
            axum::Json(json).into_response()
        }
        (&Method::PUT, ["channels", c, "permissions", _]) => {
            if !i.channels.iter().any(|ch| ch.id == *c) {
                return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (&Method::POST, ["channels", c, "messages"]) => {
            if !i.channels.iter().any(|ch| ch.id == *c) {
                return error(StatusCode::NOT_FOUND, 10003, "Unknown Channel");
            }
            if body["content"]
                .as_str()
                .is_some_and(|t| t.chars().count() > 2000)
            {
                return error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body");
            }
            let id = i.id();
            axum::Json(message_json(&id, c, &body)).into_response()
        }
        (&Method::GET, ["channels", _, "messages", m]) => match i.messages.get(*m) {
            Some(message) => axum::Json(message.clone()).into_response(),
            None => error(StatusCode::NOT_FOUND, 10008, "Unknown Message"),
        },
        (&Method::PATCH, ["channels", c, "messages", m]) => {
            axum::Json(message_json(m, c, &body)).into_response()
        }
        (&Method::PUT, ["channels", _, "pins", _]) => StatusCode::NO_CONTENT.into_response(),
        (&Method::POST, ["interactions", id, _token, "callback"]) => {
            if let Some(waiting) = i.waiting.remove(*id) {
                let _ = waiting.send(body.clone());
            }
            StatusCode::NO_CONTENT.into_response()
        }
        (&Method::PATCH, ["webhooks", _, _, "messages", "@original"]) => {
            let id = i.id();
            axum::Json(message_json(&id, GENERAL, &body)).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, 0, "404: Not Found"),
    }
}

async fn gateway(
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
                            if !ok {
                                let _ = to_klaxon
                                    .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                                        code: 4004,
                                        reason: "Authentication failed.".into(),
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
