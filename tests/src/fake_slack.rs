//! A fake Slack on 127.0.0.1: the Web API methods Klaxon calls, answering with Slack's real
//! response and error shapes and refusing what Slack refuses (`web.rs`, `rules.rs`), Socket
//! Mode, and senders of signed slash commands, interactions and events.

mod api;
mod direct;
mod members;
mod rules;
mod send;
mod socket;
mod tiers;
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

pub use send::{
    bench_declare, declare_values, event, event_callback, interact, reaction, send, shortcut, sign,
    slash, submit,
};
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
    /// The same for one method's calls only, by method.
    forced_on: std::collections::HashMap<String, VecDeque<(u16, Option<u64>)>>,
    /// The open Socket Mode connections, oldest first: (number, frames to send to Klaxon).
    /// Slack hands each envelope to one of an app's connections, up to 10 of them
    /// (docs.slack.dev/apis/events-api/using-socket-mode); the fake takes them in turn.
    sockets: Vec<(u64, tokio::sync::mpsc::UnboundedSender<String>)>,
    /// The connection the next envelope goes to, counted over the open ones.
    turn: usize,
    /// How many Socket Mode connections Klaxon has opened so far.
    connections: u64,
    /// The most connections open at once.
    most_open: usize,
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
    /// Methods whose calls are carried out and then never answered (a crash's window).
    stalled: std::collections::BTreeSet<String>,
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
            .route("/api/{method}", post(api::method).get(api::method))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&inner),
                api::stall,
            ))
            .route("/link", axum::routing::get(socket::link))
            .route("/upload/{file}", post(api::upload))
            .route("/respond/{trigger}", post(api::respond))
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

    /// The texts of Klaxon's direct messages to `user`, oldest first.
    pub fn direct_messages(&self, user: &str) -> Vec<String> {
        self.with(|i| {
            i.ws.channels
                .values()
                .filter(|c| c.im.as_deref() == Some(user))
                .flat_map(|c| c.posts.values())
                .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
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

    /// Turns on Slack's published rate limits (`tiers.rs`: `conversations.create` Tier 2,
    /// `chat.update` Tier 3, `chat.postMessage` one a second per channel, with their bursts);
    /// off by default so tests stay fast.
    pub fn enforce_rate_limits(&self) {
        self.enforce_tiers(1);
    }

    /// Slack's rate limits with time running `speed` times faster (a test's scaled-down
    /// limits: Tier 2's 20 a minute become 20 per `60 / speed` seconds). `Retry-After` stays in
    /// whole seconds, at least 1, as Slack sends it.
    pub fn enforce_tiers(&self, speed: u32) {
        self.with(|i| i.ws.tiers.enforce(speed));
    }

    /// The next call to `method` answers 429 with `Retry-After: secs` (its limit spent).
    pub fn refuse_next(&self, method: &str, secs: u64) {
        self.with(|i| i.ws.tiers.refuse_next(method, secs));
    }

    /// How many calls to `method` the rate limits answered 429.
    pub fn rate_limited(&self, method: &str) -> usize {
        self.with(|i| i.ws.tiers.refused(method))
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

    /// Drops every Socket Mode connection without a goodbye; with `refuse`, Slack also refuses
    /// new ones (`apps.connections.open` fails) until `restore_sockets`.
    pub fn drop_socket(&self, refuse: bool) {
        self.with(|i| {
            i.refuse_sockets = refuse;
            for (_, socket) in &i.sockets {
                let _ = socket.send(socket::DROP.to_owned());
            }
        });
    }

    /// Drops the oldest Socket Mode connection alone, without a goodbye.
    pub fn drop_one_socket(&self) {
        self.with(|i| {
            if let Some((_, socket)) = i.sockets.first() {
                let _ = socket.send(socket::DROP.to_owned());
            }
        });
    }

    /// From now on `apps.connections.open` fails, until `restore_sockets`.
    pub fn refuse_sockets(&self) {
        self.with(|i| i.refuse_sockets = true);
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

    /// The same for `method`'s next calls only (which of Klaxon's calls reaches Slack first
    /// is a race: `force` hits whichever does).
    pub fn force_on(&self, method: &str, responses: impl IntoIterator<Item = (u16, Option<u64>)>) {
        self.with(|i| {
            i.forced_on
                .entry(method.to_owned())
                .or_default()
                .extend(responses);
        });
    }

    /// From now on `method`'s calls are carried out but never answered, as when Klaxon stops
    /// between Slack doing a call and hearing so; [`FakeSlack::unstall`] ends it.
    pub fn stall(&self, method: &str) {
        self.with(|i| i.stalled.insert(method.to_owned()));
    }

    /// Every method answers again.
    pub fn unstall(&self) {
        self.with(|i| i.stalled.clear());
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
        self.open_sockets() > 0
    }

    /// How many Socket Mode connections Klaxon holds now.
    pub fn open_sockets(&self) -> usize {
        self.with(|i| i.sockets.iter().filter(|(_, s)| !s.is_closed()).count())
    }

    /// The most Socket Mode connections Klaxon held at once.
    pub fn most_open_sockets(&self) -> usize {
        self.with(|i| i.most_open)
    }

    /// How many Socket Mode connections Klaxon has opened so far.
    pub fn connections(&self) -> u64 {
        self.with(|i| i.connections)
    }

    /// Asks Klaxon to reconnect the oldest connection, as Slack does before it recycles one.
    pub fn disconnect(&self, reason: &str) {
        let frame = json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": { "host": "fake-slack" }
        });
        self.with(|i| {
            if let Some((_, socket)) = i.sockets.first() {
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
            i.sockets.retain(|(_, s)| !s.is_closed());
            if !i.sockets.is_empty() {
                let at = i.turn % i.sockets.len();
                i.turn = at + 1;
                let _ = i.sockets[at].1.send(frame.to_string());
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
        send::click_payload(&base, action, incident, user, channel, trigger)
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
