//! A fake Slack on 127.0.0.1: the Web API methods Klaxon calls, answering with Slack's real
//! response and error shapes and refusing what Slack refuses (`web.rs`, `rules.rs`), Socket
//! Mode, and senders of signed slash commands, interactions and events.

mod rules;
mod web;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

/// The bot token the fake accepts.
pub const BOT_TOKEN: &str = "xoxb-test-token";
/// The app-level token the fake accepts for Socket Mode.
pub const APP_TOKEN: &str = "xapp-test-token";
/// The signing secret both sides share.
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

pub use web::{BOT_USER, Channel, GENERAL, INCIDENTS, SCOPES, TEAM};

/// One Web API call as received.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    pub method: String,
    pub body: Value,
    /// When the fake received it.
    pub at: std::time::Instant,
    /// The error Slack answered with, if it refused the call.
    pub error: Option<String>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<ApiCall>,
    /// Channels, people, scopes and what is posted and pinned.
    ws: web::Workspace,
    /// Bot tokens Slack knows, with the error each answers (`None`: valid).
    tokens: std::collections::HashMap<String, Option<String>>,
    /// While set, `apps.connections.open` fails: Socket Mode cannot reconnect.
    refuse_sockets: bool,
    next: u64,
    /// Responses to force, in order, before normal service: (status, retry-after seconds).
    forced: VecDeque<(u16, Option<u64>)>,
    /// The open Socket Mode connection: frames to send to Klaxon.
    socket: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    /// How many Socket Mode connections Klaxon has opened; the open one is the latest.
    connections: u64,
    /// Envelopes sent and waiting for Klaxon's acknowledgement, by envelope id.
    acks: std::collections::HashMap<String, tokio::sync::oneshot::Sender<Value>>,
    base: String,
    /// Added to every Web API answer, to play a slow Slack.
    latency: std::time::Duration,
    /// Forms opened with `views.open`, as Slack stores them (with their id and hash).
    views: Vec<Value>,
    /// Files uploaded to an upload URL, by file id: (bytes, content type).
    uploads: std::collections::HashMap<String, (Vec<u8>, String)>,
    /// Files shared with `files.completeUploadExternal`: (file id, title, channel, comment, content).
    shared: Vec<SharedFile>,
}

/// A file Klaxon shared in a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedFile {
    pub id: String,
    pub title: String,
    pub filename: String,
    pub channel: String,
    pub comment: String,
    pub content: String,
    pub content_type: String,
}

#[derive(Clone)]
pub struct FakeSlack {
    /// The Web API base, for `SLACK_API_URL`.
    pub api_url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let inner = Arc::new(Mutex::new(Inner {
            base: format!("127.0.0.1:{port}"),
            tokens: [(BOT_TOKEN.to_owned(), None)].into_iter().collect(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/api/{method}", post(method).get(method))
            .route("/link", axum::routing::get(link))
            .route("/upload/{file}", post(upload))
            .route("/respond/{trigger}", post(respond))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            api_url: format!("http://127.0.0.1:{port}/api"),
            inner,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn calls(&self) -> Vec<ApiCall> {
        self.with(|i| i.calls.clone())
    }

    pub fn calls_to(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .map(|c| c.body)
            .collect()
    }

    /// A channel that exists already under `name`, archived (an archived one keeps its name).
    pub fn take_name(&self, name: &str) {
        self.with(|i| {
            let id = format!("C0TAKEN{}", i.ws.channels.len());
            i.ws.add_channel(&id, name, false, false);
            if let Some(c) = i.ws.channels.get_mut(&id) {
                c.archived = true;
            }
        });
    }

    /// A person unarchives a channel in Slack (no bot token can: see `conversations.unarchive`);
    /// its members stay.
    pub fn unarchive_as_person(&self, id: &str) {
        self.with(|i| {
            if let Some(c) = i.ws.channels.get_mut(id) {
                c.archived = false;
            }
        });
    }

    /// Adds a channel everyone is in; the bot is in it when `bot_member`.
    pub fn add_channel(&self, id: &str, name: &str, private: bool, bot_member: bool) {
        self.with(|i| i.ws.add_channel(id, name, private, bot_member));
    }

    /// A channel as Slack holds it now.
    pub fn channel(&self, id: &str) -> Option<Channel> {
        self.with(|i| i.ws.channels.get(id).cloned())
    }

    /// The channel named `name`, as Slack holds it now.
    pub fn channel_named(&self, name: &str) -> Option<Channel> {
        self.with(|i| i.ws.channels.values().find(|c| c.name == name).cloned())
    }

    /// Takes a scope away from the bot token (as an app installed without it).
    pub fn remove_scope(&self, scope: &str) {
        self.with(|i| i.ws.scopes.remove(scope));
    }

    /// Makes every bot-token call answer `error` (`token_revoked`, `account_inactive` …).
    pub fn break_token(&self, error: &str) {
        self.with(|i| {
            i.tokens
                .insert(BOT_TOKEN.to_owned(), Some(error.to_owned()));
        });
    }

    /// The bot token works again (a scope granted back, the app reactivated).
    pub fn restore_token(&self) {
        self.with(|i| {
            i.tokens.insert(BOT_TOKEN.to_owned(), None);
        });
    }

    /// Another valid bot token (a reinstalled app's).
    pub fn add_token(&self, token: &str) {
        self.with(|i| {
            i.tokens.insert(token.to_owned(), None);
        });
    }

    /// Turns on Slack's rate limits (`conversations.create`, `chat.update`, one
    /// `chat.postMessage` per second per channel); off by default so tests stay fast.
    pub fn enforce_rate_limits(&self) {
        self.with(|i| i.ws.rate_limits = true);
    }

    /// A `trigger_id` as Slack puts in a command or click, issued now: good for one
    /// `views.open` within three seconds.
    pub fn trigger(&self) -> String {
        self.with(|i| i.ws.trigger(std::time::Duration::ZERO))
    }

    /// A `trigger_id` issued four seconds ago, so expired.
    pub fn stale_trigger(&self) -> String {
        self.with(|i| i.ws.trigger(std::time::Duration::from_secs(4)))
    }

    /// Drops the Socket Mode connection without a goodbye; with `refuse`, Slack also refuses
    /// new ones (`apps.connections.open` fails) until `restore_sockets`.
    pub fn drop_socket(&self, refuse: bool) {
        self.with(|i| {
            i.refuse_sockets = refuse;
            if let Some(socket) = &i.socket {
                let _ = socket.send(DROP.to_owned());
            }
        });
    }

    /// Lets Socket Mode connect again.
    pub fn restore_sockets(&self) {
        self.with(|i| i.refuse_sockets = false);
    }

    /// The next calls answer 429 with `Retry-After` (or another status, a 5xx as plain text,
    /// with `Retry-After` when given).
    pub fn force(&self, responses: impl IntoIterator<Item = (u16, Option<u64>)>) {
        self.with(|i| i.forced.extend(responses));
    }

    /// Every Web API answer waits this long first.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.with(|i| i.latency = latency);
    }

    /// The files Klaxon shared, oldest first.
    pub fn shared_files(&self) -> Vec<SharedFile> {
        self.with(|i| i.shared.clone())
    }

    /// A message someone wrote in `channel` (in the thread of `thread_ts`, if given).
    pub fn add_message(
        &self,
        channel: &str,
        ts: &str,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) {
        let mut m =
            json!({ "type": "message", "user": user, "text": text, "ts": ts, "team": "T0TEAM" });
        if let Some(t) = thread_ts {
            m["thread_ts"] = t.into();
        }
        self.with(|i| i.ws.messages.entry(channel.to_owned()).or_default().push(m));
    }

    /// The forms Klaxon opened, oldest first, as Slack holds them.
    pub fn views(&self) -> Vec<Value> {
        self.with(|i| i.views.clone())
    }

    /// Whether Klaxon holds a Socket Mode connection.
    pub fn connected(&self) -> bool {
        self.with(|i| i.socket.as_ref().is_some_and(|s| !s.is_closed()))
    }

    /// How many Socket Mode connections Klaxon has opened so far.
    pub fn connections(&self) -> u64 {
        self.with(|i| i.connections)
    }

    /// Asks Klaxon to reconnect, as Slack does before it recycles a connection.
    pub fn disconnect(&self, reason: &str) {
        let frame = json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": { "host": "fake-slack" }
        });
        self.with(|i| {
            if let Some(socket) = &i.socket {
                let _ = socket.send(frame.to_string());
            }
        });
    }

    /// Sends a slash command over Socket Mode, as Slack does, and returns the payload Klaxon
    /// acknowledged the envelope with (its reply).
    pub async fn socket_command(&self, payload: Value) -> Value {
        self.socket_envelope("slash_commands", payload).await
    }

    /// Sends any envelope (`slash_commands`, `interactive`, `events_api`) and returns the
    /// payload Klaxon acknowledged it with.
    pub async fn socket_envelope(&self, kind: &str, payload: Value) -> Value {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = self.with(|i| {
            i.next += 1;
            let id = format!("env-{}", i.next);
            i.acks.insert(id.clone(), tx);
            let frame = json!({
                "type": kind,
                "envelope_id": id,
                "accepts_response_payload": true,
                "payload": payload,
            });
            if let Some(socket) = &i.socket {
                let _ = socket.send(frame.to_string());
            }
            id
        });
        tokio::time::timeout(std::time::Duration::from_secs(10), rx)
            .await
            .unwrap_or_else(|_| panic!("no acknowledgement for {id}"))
            .unwrap_or(Value::Null)
    }

    /// A click on one of Klaxon's buttons, as Slack sends it; its `response_url` leads here
    /// (what Klaxon answers through it is a call to `response_url`).
    pub fn click(
        &self,
        action: &str,
        incident: i64,
        user: &str,
        channel: &str,
        trigger: &str,
    ) -> Value {
        let base = self.with(|i| i.base.clone());
        click_payload(&base, action, incident, user, channel, trigger)
    }

    /// What Klaxon said through clicks' `response_url`s, oldest first.
    pub fn responses(&self) -> Vec<Value> {
        self.calls_to("response_url")
    }

    /// Waits (up to 10 s) until `check` holds; returns whether it did.
    pub async fn until(&self, check: impl Fn(&[ApiCall]) -> bool) -> bool {
        crate::wait::until(crate::wait::LIMIT, || check(&self.calls())).await
    }
}

fn ok(v: Value) -> Response {
    let mut body = json!({ "ok": true });
    if let (Some(b), Some(extra)) = (body.as_object_mut(), v.as_object()) {
        b.extend(extra.clone());
    }
    axum::Json(body).into_response()
}

fn error(code: &str) -> Response {
    axum::Json(json!({ "ok": false, "error": code })).into_response()
}

/// What the socket task sends itself to drop the connection.
const DROP: &str = "\u{0}drop";

async fn method(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Reading methods come as GET with the arguments in the query string.
    let body = if body.is_empty() {
        axum::body::Bytes::from(query.unwrap_or_default())
    } else {
        body
    };
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if method == "apps.connections.open" {
        if auth != Some(&format!("Bearer {APP_TOKEN}")) {
            return error("invalid_auth");
        }
        let (base, refuse) = {
            let i = inner.lock().unwrap_or_else(PoisonError::into_inner);
            (i.base.clone(), i.refuse_sockets)
        };
        if refuse {
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
        return ok(json!({ "url": format!("ws://{base}/link?ticket=t1") }));
    }
    // docs.slack.dev/authentication/tokens: an unknown token is `invalid_auth`; a revoked one
    // `token_revoked`, a deactivated workspace or bot `account_inactive`.
    let token = auth.and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
    let refused = match inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .tokens
        .get(token)
    {
        None => Some("invalid_auth".to_owned()),
        Some(e) => e.clone(),
    };
    if let Some(code) = refused {
        return error(&code);
    }
    let latency = inner.lock().unwrap_or_else(PoisonError::into_inner).latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let body: Value = serde_json::from_slice(&body)
        .or_else(|_| {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                .map(|kv| json!(kv.into_iter().collect::<std::collections::BTreeMap<_, _>>()))
        })
        .unwrap_or(Value::Null);
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((status, retry_after)) = i.forced.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        // docs.slack.dev/apis/web-api/rate-limits: a 429 carries `ok: false, error:
        // ratelimited` and `Retry-After`. A 5xx is an outage, not a Web API answer: plain text,
        // and `Retry-After` when the server knows when it is back (RFC 9110 §15.6.4 and
        // §10.2.3: a 503 may say how long the service is expected to be unavailable).
        let mut r = if status == StatusCode::TOO_MANY_REQUESTS {
            (
                status,
                axum::Json(json!({"ok": false, "error": "ratelimited"})),
            )
                .into_response()
        } else {
            (status, "Service Unavailable").into_response()
        };
        if let Some(s) = retry_after
            && let Ok(v) = s.to_string().parse()
        {
            r.headers_mut().insert("retry-after", v);
        }
        return r;
    }
    i.next += 1;
    let n = i.next;
    let channel = body["channel"].as_str().unwrap_or("").to_owned();
    let answer = answer(&mut i, &method, &channel, &body, n);
    let error = match &answer {
        web::Answer::Ok(_) => None,
        web::Answer::Err(code, _) => Some(code.clone()),
        web::Answer::RateLimited(_) => Some("ratelimited".to_owned()),
    };
    i.calls.push(ApiCall {
        method: method.clone(),
        body: body.clone(),
        at: std::time::Instant::now(),
        error,
    });
    let scopes = i.ws.scopes.iter().cloned().collect::<Vec<_>>().join(",");
    drop(i);
    let mut response = match answer {
        web::Answer::Ok(v) => ok(v),
        web::Answer::Err(code, extra) => {
            let mut body = json!({ "ok": false, "error": code });
            if let (Some(b), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                b.extend(extra.clone());
            }
            axum::Json(body).into_response()
        }
        web::Answer::RateLimited(secs) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({ "ok": false, "error": "ratelimited" })),
            )
                .into_response();
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
            r
        }
    };
    // docs.slack.dev/authentication/tokens ("Token types" → checking scopes): every Web API
    // answer carries the token's scopes in `x-oauth-scopes`.
    if let Ok(v) = scopes.parse() {
        response.headers_mut().insert("x-oauth-scopes", v);
    }
    response
}

/// The answer to one call: the workspace's methods (`web.rs`), then reading messages, files
/// and forms here.
fn answer(i: &mut Inner, method: &str, channel: &str, body: &Value, n: u64) -> web::Answer {
    use web::Answer;
    let refuse = |code: &str| Answer::Err(code.to_owned(), json!({}));
    let ok = Answer::Ok;
    let needs_channel = matches!(
        method,
        "conversations.history" | "conversations.replies" | "chat.getPermalink"
    );
    if needs_channel && let Err(a) = web::visible(&mut i.ws, channel) {
        return a;
    }
    match method {
        "conversations.history" => {
            let latest = body["latest"].as_str().unwrap_or("");
            let inclusive = body["inclusive"] == "true";
            let mut found: Vec<Value> =
                i.ws.messages
                    .get(channel)
                    .map(|m| {
                        m.iter()
                            .filter(|m| m["thread_ts"].is_null() || m["thread_ts"] == m["ts"])
                            .filter(|m| {
                                let ts = m["ts"].as_str().unwrap_or("");
                                latest.is_empty() || ts < latest || (inclusive && ts == latest)
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
            found.sort_by(|a, b| b["ts"].as_str().cmp(&a["ts"].as_str()));
            found.truncate(
                body["limit"]
                    .as_str()
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(100),
            );
            ok(json!({ "messages": found, "has_more": false }))
        }
        "conversations.replies" => {
            let ts = body["ts"].as_str().unwrap_or("");
            let all = i.ws.messages.get(channel).cloned().unwrap_or_default();
            let Some(m) = all.iter().find(|m| m["ts"] == ts) else {
                return refuse("thread_not_found");
            };
            let thread = m["thread_ts"].as_str().unwrap_or(ts).to_owned();
            let mut found: Vec<Value> = all
                .into_iter()
                .filter(|m| m["ts"] == thread.as_str() || m["thread_ts"] == thread.as_str())
                .collect();
            found.sort_by(|a, b| a["ts"].as_str().cmp(&b["ts"].as_str()));
            ok(json!({ "messages": found, "has_more": false }))
        }
        "chat.getPermalink" => {
            let ts = body["message_ts"].as_str().unwrap_or("").replace('.', "");
            ok(
                json!({ "channel": channel, "permalink": format!("https://acme.slack.com/archives/{channel}/p{ts}") }),
            )
        }
        "files.getUploadURLExternal" => {
            let filename = body["filename"].as_str().unwrap_or("");
            let length: usize = body["length"]
                .as_str()
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if filename.is_empty() || length == 0 {
                return refuse("invalid_arguments");
            }
            let id = format!("F{n:07}");
            i.uploads.insert(
                id.clone(),
                (Vec::new(), format!("pending:{filename}:{length}")),
            );
            let base = i.base.clone();
            ok(json!({ "upload_url": format!("http://{base}/upload/{id}"), "file_id": id }))
        }
        "files.completeUploadExternal" => {
            let Some(file) = body["files"].get(0) else {
                return refuse("invalid_arguments");
            };
            // docs.slack.dev/reference/methods/files.completeUploadExternal: `channel_id` is
            // an ID.
            let target = body["channel_id"].as_str().unwrap_or("");
            if let Err(a) = web::visible(&mut i.ws, target) {
                return a;
            }
            let id = file["id"].as_str().unwrap_or("").to_owned();
            let Some((bytes, kind)) = i.uploads.get(&id).cloned() else {
                return refuse("file_not_found");
            };
            let Some(rest) = kind.strip_prefix("uploaded:") else {
                return refuse("file_not_found");
            };
            let (content_type, filename) = rest.split_once(':').unwrap_or((rest, ""));
            let shared = SharedFile {
                id: id.clone(),
                title: file["title"].as_str().unwrap_or("").to_owned(),
                filename: filename.to_owned(),
                channel: body["channel_id"].as_str().unwrap_or("").to_owned(),
                comment: body["initial_comment"].as_str().unwrap_or("").to_owned(),
                content: String::from_utf8_lossy(&bytes).into_owned(),
                content_type: content_type.to_owned(),
            };
            i.shared.push(shared.clone());
            ok(json!({ "files": [{ "id": id, "title": shared.title, "name": shared.filename }] }))
        }
        "views.open" => {
            let mut view = match &body["view"] {
                Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
                v => v.clone(),
            };
            if let Err(a) =
                web::use_trigger(&mut i.ws, body["trigger_id"].as_str().unwrap_or(""), &view)
            {
                return a;
            }
            view["id"] = format!("V{n:07}").into();
            view["team_id"] = "T0TEAM".into();
            view["hash"] = format!("{n}.hash").into();
            view["state"] = json!({ "values": {} });
            i.views.push(view.clone());
            ok(json!({ "view": view }))
        }
        _ => web::call(&mut i.ws, method, body),
    }
}

/// An upload URL from `files.getUploadURLExternal`: takes the bytes, answers in plain text.
async fn upload(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(file): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((bytes, kind)) = i.uploads.get_mut(&file) else {
        return (StatusCode::NOT_FOUND, "no such upload").into_response();
    };
    let Some(rest) = kind.strip_prefix("pending:") else {
        return (StatusCode::BAD_REQUEST, "already uploaded").into_response();
    };
    let (filename, length) = rest.rsplit_once(':').unwrap_or((rest, "0"));
    if length.parse::<usize>().ok() != Some(body.len()) {
        return (StatusCode::BAD_REQUEST, "length mismatch").into_response();
    }
    *kind = format!("uploaded:{content_type}:{filename}");
    *bytes = body.to_vec();
    let len = bytes.len();
    i.calls.push(ApiCall {
        method: "upload".to_owned(),
        body: json!({ "file": file, "bytes": len }),
        at: std::time::Instant::now(),
        error: None,
    });
    format!("OK - {len}").into_response()
}

/// A click's `response_url`: docs.slack.dev/interactivity/handling-user-interaction ("Message
/// responses"): a JSON message, `replace_original` to keep the clicked message or not; Slack
/// answers `ok`.
async fn respond(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(trigger): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(mut message) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    if let Err(code) = rules::message(&message) {
        return (StatusCode::BAD_REQUEST, code).into_response();
    }
    message["trigger"] = trigger.into();
    inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .calls
        .push(ApiCall {
            method: "response_url".to_owned(),
            body: message,
            at: std::time::Instant::now(),
            error: None,
        });
    "ok".into_response()
}

/// The Socket Mode WebSocket: hello first, then envelopes; acknowledgements come back.
async fn link(
    ws: axum::extract::ws::WebSocketUpgrade,
    State(inner): State<Arc<Mutex<Inner>>>,
) -> Response {
    ws.on_upgrade(move |socket| connection(socket, inner))
}

async fn connection(socket: axum::extract::ws::WebSocket, inner: Arc<Mutex<Inner>>) {
    use axum::extract::ws::Message;
    use futures_util::{SinkExt as _, StreamExt as _};
    let (mut to_klaxon, mut from_klaxon) = socket.split();
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "connection_info": { "app_id": "A0KLAXON" },
        "debug_info": { "host": "fake-slack", "approximate_connection_time": 3600 }
    });
    if to_klaxon
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let generation = {
        let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
        i.connections += 1;
        i.socket = Some(tx);
        i.connections
    };
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(frame) if frame == DROP => return,
                Some(frame) => {
                    if to_klaxon.send(Message::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            incoming = from_klaxon.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let ack: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if let Some(id) = ack["envelope_id"].as_str() {
                        let waiting = inner.lock().unwrap_or_else(PoisonError::into_inner).acks.remove(id);
                        if let Some(waiting) = waiting {
                            let _ = waiting.send(ack["payload"].clone());
                        }
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    // Only the latest connection is Slack's way to Klaxon; an older one closing changes nothing.
    let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
    if i.connections == generation {
        i.socket = None;
    }
}

/// Signs a body the way Slack does: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts a slash command to Klaxon's `/slack/commands`, signed now with the shared secret.
pub async fn slash(klaxon: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let body = serde_urlencoded::to_string(fields).expect("form");
    let ts = chrono::Utc::now().timestamp();
    send(klaxon, &body, Some((sign(SIGNING_SECRET, ts, &body), ts))).await
}

/// Posts a raw body with an optional (signature, timestamp).
pub async fn send(klaxon: &str, body: &str, signature: Option<(String, i64)>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{klaxon}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some((sig, ts)) = signature {
        req = req
            .header("x-slack-signature", sig)
            .header("x-slack-request-timestamp", ts.to_string());
    }
    req.send().await.expect("klaxon answers")
}

/// A button click (`block_actions`) on one of Klaxon's buttons, as Slack sends it, with a
/// `response_url` that leads back to `base` (the fake's `/respond`).
fn click_payload(
    base: &str,
    action: &str,
    incident: i64,
    user: &str,
    channel: &str,
    trigger: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "team": { "id": "T0TEAM", "domain": "acme" },
        "user": { "id": user, "username": user.to_lowercase(), "team_id": "T0TEAM" },
        "api_app_id": "A0KLAXON",
        "container": { "type": "message", "message_ts": "1763888400.000004", "channel_id": channel },
        "trigger_id": trigger,
        "channel": { "id": channel, "name": "incidents" },
        "response_url": format!("http://{base}/respond/{trigger}"),
        "actions": [{
            "type": "button",
            "action_id": format!("klaxon.{action}"),
            "block_id": "b1",
            "text": { "type": "plain_text", "text": action },
            "value": incident.to_string(),
            "action_ts": "1763888500.000100"
        }]
    })
}

/// Posts a signed interaction to Klaxon's `/slack/interactions`.
pub async fn interact(klaxon: &str, payload: &Value) -> reqwest::Response {
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
    let ts = chrono::Utc::now().timestamp();
    reqwest::Client::new()
        .post(format!("{klaxon}/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body))
        .header("x-slack-request-timestamp", ts.to_string())
        .body(body)
        .send()
        .await
        .expect("klaxon answers")
}

/// The "Declare incident" global shortcut, as Slack sends it.
pub fn shortcut(user: &str, trigger: &str) -> Value {
    json!({
        "type": "shortcut",
        "token": "legacy-verification-token",
        "action_ts": "1763888500.000200",
        "team": { "id": "T0TEAM", "domain": "acme" },
        "user": { "id": user, "username": user.to_lowercase(), "team_id": "T0TEAM" },
        "is_enterprise_install": false,
        "callback_id": "klaxon.declare",
        "trigger_id": trigger,
    })
}

/// A `view_submission` of a form Klaxon opened, with the values the user entered, as Slack
/// sends it (`state.values` by block id, then action id).
pub fn submit(view: &Value, user: &str, values: Value) -> Value {
    let mut view = view.clone();
    view["state"] = json!({ "values": values });
    json!({
        "type": "view_submission",
        "team": { "id": "T0TEAM", "domain": "acme" },
        "user": { "id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": "T0TEAM" },
        "api_app_id": "A0KLAXON",
        "token": "legacy-verification-token",
        "trigger_id": "1763888600.submit",
        "view": view,
        "response_urls": [],
        "is_enterprise_install": false,
    })
}

/// The values of a filled-in declare form.
pub fn declare_values(title: &str, severity: Option<&str>, private: bool) -> Value {
    let selected = severity
        .map(|s| json!({ "text": { "type": "plain_text", "text": s.to_uppercase() }, "value": s }));
    let mut severity = json!({ "type": "static_select" });
    if let Some(selected) = selected {
        severity["selected_option"] = selected;
    }
    let options = if private {
        json!([{ "text": { "type": "plain_text", "text": "Private incident" }, "value": "private" }])
    } else {
        json!([])
    };
    json!({
        "title": { "title": { "type": "plain_text_input", "value": title } },
        "severity": { "severity": severity },
        "private": { "private": { "type": "checkboxes", "selected_options": options } },
    })
}

/// An `event_callback` as the Events API sends it.
pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "legacy-verification-token",
        "team_id": "T0TEAM",
        "api_app_id": "A0KLAXON",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_763_888_500,
        "authorizations": [{ "team_id": "T0TEAM", "user_id": "U0KLAXON", "is_bot": true }],
    })
}

/// A `reaction_added` or `reaction_removed` event on a message.
pub fn reaction(kind: &str, user: &str, name: &str, channel: &str, ts: &str) -> Value {
    json!({
        "type": kind,
        "user": user,
        "reaction": name,
        "item_user": "U0ALICE",
        "item": { "type": "message", "channel": channel, "ts": ts },
        "event_ts": "1763888500.000900",
    })
}

/// Posts a signed Events API request to Klaxon's `/slack/events`, with an optional
/// `X-Slack-Retry-Num`.
pub async fn event(klaxon: &str, payload: &Value, retry: Option<u32>) -> reqwest::Response {
    let body = payload.to_string();
    let ts = chrono::Utc::now().timestamp();
    let mut req = reqwest::Client::new()
        .post(format!("{klaxon}/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body))
        .header("x-slack-request-timestamp", ts.to_string());
    if let Some(n) = retry {
        req = req
            .header("x-slack-retry-num", n.to_string())
            .header("x-slack-retry-reason", "http_timeout");
    }
    req.body(body).send().await.expect("klaxon answers")
}
