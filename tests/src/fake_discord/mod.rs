//! A fake Discord on 127.0.0.1, as strict as Discord: REST under `/api/v10` with Discord's
//! response shapes, limits and error codes (`rest.rs`, every rule citing Discord's docs), and a
//! gateway WebSocket that speaks the real opcodes: HELLO, IDENTIFY, READY, heartbeats and their
//! ACKs, dispatches with sequence numbers, RECONNECT, RESUME/RESUMED and the 4004/4014 closes
//! (`gateway.rs`, with the interaction payloads tests send).
//!
//! Time-bound rules (the topic bucket, the 3 s interaction deadline, 15-minute tokens) read the
//! fake's own clock, which tests move with [`FakeDiscord::advance`].

mod direct;
mod gateway;
mod messages;
mod rest;
mod rules;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{any, get};
use serde_json::{Value, json};

pub use gateway::{add_to_timeline, click, member, ping, reaction, slash, slash_group, submit};
pub use rest::user_message;

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
/// The incidents category that exists from the start.
pub const CATEGORY: &str = "710000000000000009";
/// The bot's own role (Discord makes one for every bot it adds to a guild).
pub const BOT_ROLE: &str = "300000000000000009";
/// A mentionable role for SEV1 pages.
pub const ROLE: &str = "300000000000000001";

/// Discord's permission bits (Topics > Permissions > Bitwise Permission Flags).
pub mod perm {
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_CHANNELS: u64 = 1 << 4;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MENTION_EVERYONE: u64 = 1 << 17;
    pub const MANAGE_ROLES: u64 = 1 << 28;
    /// Pin Messages, split from Manage Messages on 2026-02-23.
    pub const PIN_MESSAGES: u64 = 1 << 51;
    /// What Klaxon's README asks for when adding the bot.
    pub const KLAXON: u64 = MANAGE_CHANNELS
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | MANAGE_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MANAGE_ROLES
        | PIN_MESSAGES;
}

/// One REST call as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    /// The path after `/api/v10`.
    pub path: String,
    pub body: Value,
    pub at: std::time::Instant,
}

/// A channel (or category, `kind` 4) in the fake guild.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
    /// Discord's channel type: 0 text, 4 category.
    pub kind: u8,
    pub topic: Option<String>,
    pub parent_id: Option<String>,
    pub overwrites: Vec<Value>,
}

impl Channel {
    fn text(id: &str, name: &str, parent: Option<&str>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            kind: 0,
            topic: None,
            parent_id: parent.map(str::to_owned),
            overwrites: Vec::new(),
        }
    }
}

/// A role in the fake guild.
#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub permissions: u64,
    pub mentionable: bool,
}

/// An interaction Discord sent, waiting for (or past) its first response.
#[derive(Debug, Clone)]
struct Interaction {
    id: String,
    created: Instant,
    responded: bool,
}

struct Inner {
    calls: Vec<Call>,
    channels: Vec<Channel>,
    roles: Vec<Role>,
    /// Roles of the bot's member.
    bot_roles: Vec<String>,
    next_id: u64,
    forced: VecDeque<(u16, Option<u64>)>,
    latency: Duration,
    /// How far the fake's clock is ahead of real time.
    offset: Duration,
    /// Whether channel name and topic edits are held to 2 per 10 minutes per channel.
    topic_bucket: bool,
    /// Times of the name/topic edits per channel, within the bucket's window.
    topic_edits: HashMap<String, Vec<Instant>>,
    /// Frames to send to the newest gateway connection.
    gateway: Option<tokio::sync::mpsc::UnboundedSender<String>>,
    seq: u64,
    identifies: u32,
    resumes: u32,
    /// Whether the application has its privileged intents enabled in the developer portal.
    privileged_intents: bool,
    /// Interaction callbacks waiting for Klaxon's first response, by interaction id.
    waiting: HashMap<String, tokio::sync::oneshot::Sender<Value>>,
    /// Interactions by token.
    interactions: HashMap<String, Interaction>,
    base: String,
    /// Every message in the guild (people's and Klaxon's), by id.
    messages: HashMap<String, Value>,
    /// Pinned message ids per channel.
    pins: HashMap<String, Vec<String>>,
    /// Registered application commands, by guild id (`global` for global ones).
    commands: HashMap<String, Vec<Value>>,
    /// The intents of the newest IDENTIFY.
    intents: Option<u64>,
    /// Close codes the gateway refused an IDENTIFY with.
    closes: Vec<u16>,
    /// Enforced message nonces: the message each made, and when.
    nonces: HashMap<String, (String, Instant)>,
    /// DM channels by id, with the person each is with (`direct.rs`).
    dms: HashMap<String, String>,
    /// People who take no direct messages from the bot (their privacy settings).
    closed_dms: std::collections::HashSet<String>,
    /// Calls (method, path pattern) carried out and then never answered (a crash's window).
    stalled: Vec<(String, String)>,
}

impl Inner {
    /// A new snowflake (Reference > Snowflakes): milliseconds since Discord's epoch
    /// (2015-01-01, 1420070400000) on the fake's clock in the top 42 bits, then a counter.
    fn id(&mut self) -> String {
        self.next_id += 1;
        let now = std::time::SystemTime::now() + self.offset;
        let ms = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
            .saturating_sub(1_420_070_400_000);
        format!("{}", (ms << 22) | (self.next_id & 0x3f_ffff))
    }

    fn now(&self) -> Instant {
        Instant::now() + self.offset
    }

    fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
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
        let mut category = Channel::text(CATEGORY, "Incidents", None);
        category.kind = 4;
        let inner = Arc::new(Mutex::new(Inner {
            calls: Vec::new(),
            base: format!("127.0.0.1:{port}"),
            next_id: 0,
            channels: vec![
                Channel::text(PAGING, "incidents", None),
                Channel::text(GENERAL, "general", None),
                category,
            ],
            roles: vec![
                Role {
                    id: GUILD.into(),
                    name: "@everyone".into(),
                    permissions: perm::VIEW_CHANNEL
                        | perm::SEND_MESSAGES
                        | perm::READ_MESSAGE_HISTORY
                        | perm::ADD_REACTIONS,
                    mentionable: false,
                },
                Role {
                    id: BOT_ROLE.into(),
                    name: "Klaxon".into(),
                    permissions: perm::KLAXON,
                    mentionable: false,
                },
                Role {
                    id: ROLE.into(),
                    name: "oncall".into(),
                    permissions: 0,
                    mentionable: true,
                },
            ],
            bot_roles: vec![BOT_ROLE.into()],
            forced: VecDeque::new(),
            latency: Duration::ZERO,
            offset: Duration::ZERO,
            topic_bucket: true,
            topic_edits: HashMap::new(),
            gateway: None,
            seq: 0,
            identifies: 0,
            resumes: 0,
            privileged_intents: true,
            waiting: HashMap::new(),
            interactions: HashMap::new(),
            messages: HashMap::new(),
            pins: HashMap::new(),
            commands: HashMap::new(),
            intents: None,
            closes: Vec::new(),
            nonces: HashMap::new(),
            dms: HashMap::new(),
            closed_dms: std::collections::HashSet::new(),
            stalled: Vec::new(),
        }));
        let app = Router::new()
            .route("/api/v10/{*path}", any(rest::rest))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(&inner),
                rest::stall,
            ))
            .route("/gateway", get(gateway::gateway))
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

    /// The channel with this id, if any.
    pub fn channel(&self, id: &str) -> Option<Channel> {
        self.with(|i| i.channel(id).cloned())
    }

    /// Every channel and category in the guild.
    pub fn channels(&self) -> Vec<Channel> {
        self.with(|i| i.channels.clone())
    }

    /// A text channel that exists already under this name; returns its id.
    pub fn take_name(&self, name: &str) -> String {
        self.add_channel(name, 0, None)
    }

    /// Adds a channel (`kind` 0) or category (4) directly; returns its id.
    pub fn add_channel(&self, name: &str, kind: u8, parent: Option<&str>) -> String {
        self.with(|i| {
            let id = i.id();
            let mut c = Channel::text(&id, name, parent);
            c.kind = kind;
            i.channels.push(c);
            id
        })
    }

    /// Adds a permission overwrite to a channel, as an admin would in the client.
    pub fn overwrite(&self, channel: &str, id: &str, kind: u8, allow: u64, deny: u64) {
        self.with(|i| {
            if let Some(c) = i.channels.iter_mut().find(|c| c.id == channel) {
                c.overwrites.push(json!({
                    "id": id, "type": kind, "allow": allow.to_string(), "deny": deny.to_string()
                }));
            }
        });
    }

    /// Sets the permissions of the bot's role (what the invite granted).
    pub fn set_bot_permissions(&self, permissions: u64) {
        self.set_role(BOT_ROLE, permissions, false);
    }

    /// Sets a role's permissions and whether it is mentionable (adding it if new).
    pub fn set_role(&self, id: &str, permissions: u64, mentionable: bool) {
        self.with(|i| match i.roles.iter_mut().find(|r| r.id == id) {
            Some(r) => {
                r.permissions = permissions;
                r.mentionable = mentionable;
            }
            None => i.roles.push(Role {
                id: id.into(),
                name: format!("role-{id}"),
                permissions,
                mentionable,
            }),
        });
    }

    /// The next REST calls answer with these statuses (429 with `retry_after`, 5xx).
    pub fn force(&self, statuses: impl IntoIterator<Item = u16>) {
        self.with(|i| i.forced.extend(statuses.into_iter().map(|s| (s, None))));
    }

    /// The next REST call answers `status` (a 5xx) with `Retry-After: secs`.
    pub fn force_retry_after(&self, status: u16, secs: u64) {
        self.with(|i| i.forced.push_back((status, Some(secs))));
    }

    /// Every REST answer waits this long first.
    /// From now on calls of `method` to paths matching `pattern` are carried out but never
    /// answered, as when Klaxon stops between Discord doing a call and hearing so;
    /// [`FakeDiscord::unstall`] ends it.
    pub fn stall(&self, method: &str, pattern: &str) {
        self.with(|i| i.stalled.push((method.to_owned(), pattern.to_owned())));
    }

    /// Every call is answered again.
    pub fn unstall(&self) {
        self.with(|i| i.stalled.clear());
    }

    pub fn set_latency(&self, latency: Duration) {
        self.with(|i| i.latency = latency);
    }

    /// Moves the fake's clock forward (the topic bucket, interaction deadlines, tokens).
    pub fn advance(&self, by: Duration) {
        self.with(|i| i.offset += by);
    }

    /// Turns the 2-per-10-minutes name/topic bucket off (on by default, as on Discord).
    pub fn set_topic_bucket(&self, on: bool) {
        self.with(|i| i.topic_bucket = on);
    }

    /// Whether the application's privileged intents are enabled (on by default).
    pub fn set_privileged_intents(&self, enabled: bool) {
        self.with(|i| i.privileged_intents = enabled);
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

    /// The message with this id as the fake holds it now.
    pub fn message(&self, id: &str) -> Option<Value> {
        self.with(|i| i.messages.get(id).cloned())
    }

    /// Every message in `channel` (people's and Klaxon's), oldest first.
    pub fn messages_in(&self, channel: &str) -> Vec<Value> {
        let mut found: Vec<Value> = self.with(|i| {
            i.messages
                .values()
                .filter(|m| m["channel_id"] == channel)
                .cloned()
                .collect()
        });
        found.sort_by_key(|m| m["id"].as_str().and_then(|id| id.parse::<u64>().ok()));
        found
    }

    /// The contents of the bot's direct messages to `user`, oldest first.
    pub fn direct_messages(&self, user: &str) -> Vec<String> {
        let channels: Vec<String> = self.with(|i| {
            i.dms
                .iter()
                .filter(|(_, u)| *u == user)
                .map(|(c, _)| c.clone())
                .collect()
        });
        channels
            .iter()
            .flat_map(|c| self.messages_in(c))
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// `user` takes no direct messages from the bot: posts to their DM are refused (50007).
    pub fn close_dms(&self, user: &str) {
        self.with(|i| i.closed_dms.insert(user.to_owned()));
    }

    /// Ids of the messages pinned in `channel`.
    pub fn pins(&self, channel: &str) -> Vec<String> {
        self.with(|i| i.pins.get(channel).cloned().unwrap_or_default())
    }

    /// The gateway intents Klaxon identified with.
    pub fn intents(&self) -> Option<u64> {
        self.with(|i| i.intents)
    }

    /// Close codes the gateway refused an IDENTIFY with (4004, 4014).
    pub fn closes(&self) -> Vec<u16> {
        self.with(|i| i.closes.clone())
    }

    /// (IDENTIFYs, RESUMEs) received so far.
    pub fn sessions(&self) -> (u32, u32) {
        self.with(|i| (i.identifies, i.resumes))
    }

    /// Waits (up to 10 s) until `check` holds.
    pub async fn until(&self, check: impl Fn(&FakeDiscord) -> bool) -> bool {
        self.until_for(Duration::from_secs(10), check).await
    }

    /// Waits up to `limit` until `check` holds.
    pub async fn until_for(&self, limit: Duration, check: impl Fn(&FakeDiscord) -> bool) -> bool {
        crate::wait::until(limit, || check(self)).await
    }

    /// Records an interaction as sent by Discord now (the gateway path does this itself; the
    /// HTTP endpoint's tests call it before posting), so its token and deadline are known.
    pub fn sent(&self, interaction: &Value) {
        let id = interaction["id"].as_str().unwrap_or("").to_owned();
        let token = interaction["token"].as_str().unwrap_or("").to_owned();
        self.with(|i| {
            let created = i.now();
            i.interactions.insert(
                token,
                Interaction {
                    id,
                    created,
                    responded: false,
                },
            )
        });
    }

    /// Marks an interaction as answered in the HTTP response (the endpoint's path).
    pub fn answered(&self, interaction: &Value) {
        let token = interaction["token"].as_str().unwrap_or("");
        self.with(|i| {
            if let Some(x) = i.interactions.get_mut(token) {
                x.responded = true;
            }
        });
    }

    /// Sends a dispatch (`op` 0) with the next sequence number.
    pub fn dispatch(&self, event: &str, data: Value) {
        if event == "INTERACTION_CREATE" {
            self.sent(&data);
        }
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
                let _ = g.send(gateway::DROP.to_owned());
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

fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let q: Vec<&str> = path.trim_matches('/').split('/').collect();
    p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
}
