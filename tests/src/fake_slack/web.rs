//! The fake Slack's workspace (channels, members, messages, pins, users, scopes) and the Web API
//! methods Klaxon calls, answering as Slack does. Every refusal cites the method's page on
//! docs.slack.dev ("Errors"); a call Slack would refuse is refused here.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::rules;

/// The bot user Klaxon's token belongs to.
pub const BOT_USER: &str = "U0KLAXON";
/// The fake workspace's team.
pub const TEAM: &str = "T0TEAM";
/// The public paging channel every fake workspace has: `#incidents`.
pub const INCIDENTS: &str = "C0INCIDENTS";
/// Where people type commands in the tests: `#general`.
pub const GENERAL: &str = "C0GENERAL";

/// The scopes Klaxon's manifest asks for, which the fake grants unless a test takes one away.
pub const SCOPES: &[&str] = &[
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:manage",
    "channels:read",
    "channels:join",
    "groups:write",
    "groups:read",
    "pins:write",
    "reactions:read",
    "channels:history",
    "groups:history",
    "files:write",
    "users:read",
    "im:write",
    "im:history",
];

/// A channel as Slack holds it.
#[derive(Debug, Clone, Default)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub private: bool,
    pub archived: bool,
    pub members: BTreeSet<String>,
    pub topic: String,
    /// Who made it (a user id) and when (Unix seconds), as `conversations.list` shows them.
    pub creator: String,
    pub created: i64,
    /// Messages the bot posted, by `ts`: what `chat.update` may edit.
    pub posts: BTreeMap<String, Value>,
    pub pins: BTreeSet<String>,
    /// For a direct message (an IM), the person it is with.
    pub im: Option<String>,
}

/// A `trigger_id` Slack handed out with a command or a click.
#[derive(Debug, Clone, Copy)]
pub(super) struct Trigger {
    pub issued: Instant,
    pub used: bool,
}

/// What one Web API call answers.
pub(super) enum Answer {
    Ok(Value),
    /// `ok: false` with Slack's error code and any extra fields (`needed`, `provided`).
    Err(String, Value),
    /// HTTP 429 with `Retry-After` in seconds.
    RateLimited(u64),
}

fn err(code: &str) -> Answer {
    Answer::Err(code.to_owned(), json!({}))
}

/// The fake's workspace.
pub struct Workspace {
    pub channels: BTreeMap<String, Channel>,
    /// User id → user name.
    pub users: BTreeMap<String, String>,
    pub scopes: BTreeSet<String>,
    /// Messages people wrote, by channel id: what `conversations.history` and
    /// `conversations.replies` answer with.
    pub messages: BTreeMap<String, Vec<Value>>,
    pub(super) triggers: HashMap<String, Trigger>,
    /// Slack's per-method rate limits, when a test asks for them (`tiers.rs`).
    pub tiers: super::tiers::Tiers,
    next_channel: u64,
    next_ts: u64,
    next_trigger: u64,
}

impl Default for Workspace {
    fn default() -> Self {
        let mut w = Self {
            channels: BTreeMap::new(),
            users: BTreeMap::new(),
            scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            messages: BTreeMap::new(),
            triggers: HashMap::new(),
            tiers: super::tiers::Tiers::default(),
            next_channel: 0,
            next_ts: 0,
            next_trigger: 0,
        };
        for (id, name) in [
            ("U0ALICE", "alice"),
            ("U0BOB", "bob"),
            ("U0CAROL", "carol"),
            ("U0EVE", "eve"),
            ("U0ONCALL", "oncall"),
            ("U0BENCH", "bench"),
            (BOT_USER, "klaxon"),
        ] {
            w.users.insert(id.to_owned(), name.to_owned());
        }
        for (id, name) in [
            (GENERAL, "general"),
            (INCIDENTS, "incidents"),
            ("C0PAGING", "paging"),
            ("C0SEARCH", "search"),
        ] {
            w.add_channel(id, name, false, false);
        }
        w
    }
}

impl Workspace {
    /// A channel that every person is in; the bot is in it when `bot_member`.
    pub fn add_channel(&mut self, id: &str, name: &str, private: bool, bot_member: bool) {
        let mut members: BTreeSet<String> = self
            .users
            .keys()
            .filter(|u| *u != BOT_USER)
            .cloned()
            .collect();
        if bot_member {
            members.insert(BOT_USER.to_owned());
        }
        self.channels.insert(
            id.to_owned(),
            Channel {
                id: id.to_owned(),
                name: name.to_owned(),
                private,
                members,
                creator: "U0ALICE".to_owned(),
                created: 1_763_888_400,
                ..Channel::default()
            },
        );
    }

    /// A fresh `trigger_id`, issued now (or `age` ago).
    pub(super) fn trigger(&mut self, age: Duration) -> String {
        self.next_trigger += 1;
        let id = format!(
            "{}.7890123.fake{:04}",
            132_456 + self.next_trigger,
            self.next_trigger
        );
        let issued = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        self.triggers.insert(
            id.clone(),
            Trigger {
                issued,
                used: false,
            },
        );
        id
    }

    fn ts(&mut self) -> String {
        self.next_ts += 1;
        format!("1763888400.{:06}", self.next_ts)
    }

    /// docs.slack.dev/reference/scopes: a method called without its scope answers
    /// `missing_scope` with the scope `needed` and those `provided`.
    pub(super) fn need(&self, scope: &str) -> Result<(), Answer> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        let provided: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        Err(Answer::Err(
            "missing_scope".to_owned(),
            json!({ "needed": scope, "provided": provided.join(",") }),
        ))
    }

    /// A channel by ID. The methods that take only IDs (`chat.update`, `pins.add`,
    /// `conversations.setTopic`, `conversations.invite`, `conversations.archive`,
    /// `reactions.*`; their pages say "ID of the channel" / "Channel ID") answer a name with
    /// `channel_not_found`. A private channel the bot is not in does not exist for it
    /// (docs.slack.dev/reference/scopes/chat.write.public: public channels only).
    pub(super) fn by_id(&mut self, channel: &str) -> Result<&mut Channel, Answer> {
        match self.channels.get_mut(channel) {
            Some(c) if !c.private || c.members.contains(BOT_USER) => Ok(c),
            _ => Err(err("channel_not_found")),
        }
    }

    /// docs.slack.dev/reference/methods/chat.postMessage, "channel": "An encoded ID or channel
    /// name that represents a channel, private group, or IM channel".
    fn by_id_or_name(&mut self, channel: &str) -> Result<&mut Channel, Answer> {
        let wanted = channel.strip_prefix('#').unwrap_or(channel);
        let id = if self.channels.contains_key(channel) {
            channel.to_owned()
        } else {
            self.channels
                .values()
                .find(|c| c.name == wanted && !c.archived)
                .map(|c| c.id.clone())
                .ok_or_else(|| err("channel_not_found"))?
        };
        self.by_id(&id)
    }
}

/// Answers one Web API call on the fake's workspace.
pub(super) fn call(w: &mut Workspace, method: &str, body: &Value) -> Answer {
    let s = |key: &str| body[key].as_str().unwrap_or("").to_owned();
    let channel = s("channel");
    // A per-channel limit counts the channel however it is named (ID or name).
    let wanted = channel.strip_prefix('#').unwrap_or(&channel);
    let key = w
        .channels
        .values()
        .find(|c| c.id == channel || c.name == wanted)
        .map_or_else(|| channel.clone(), |c| c.id.clone());
    if let Some(wait) = w.tiers.take(method, &key) {
        return Answer::RateLimited(wait);
    }
    let result = match method {
        "auth.test" => Ok(json!({
            "url": "https://acme.slack.com/", "team": "Acme", "user": "klaxon",
            "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0KLAXON",
        })),
        "conversations.create" => create(
            w,
            &s("name"),
            body["is_private"] == true || body["is_private"] == "true",
        ),
        "conversations.invite" => {
            // `users`: "A comma separated list of user IDs" (a JSON body may send an array).
            let users = match &body["users"] {
                Value::Array(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => s("users"),
            };
            super::members::invite(w, &channel, &users)
        }
        "conversations.join" => super::members::join(w, &channel),
        "conversations.setTopic" => set_topic(w, &channel, &s("topic")),
        "conversations.archive" => archive(w, &channel),
        "conversations.list" => list(w, body),
        "conversations.info" => info(w, &channel),
        "conversations.open" => return super::direct::open(w, body),
        "chat.postMessage" => post(w, &channel, body),
        "chat.postEphemeral" => ephemeral(w, &channel, &s("user"), body),
        "chat.update" => update(w, &channel, &s("ts"), body),
        "pins.add" => pin(w, &channel, &s("timestamp")),
        "reactions.add" => react(w, &channel, &s("timestamp"), &s("name")),
        "users.info" => user(w, &s("user")),
        _ => return err("unknown_method"),
    };
    match result {
        Ok(v) => Answer::Ok(v),
        Err(a) => a,
    }
}

pub(super) fn channel_json(c: &Channel) -> Value {
    json!({
        "id": c.id, "name": c.name, "is_channel": !c.private, "is_group": c.private,
        "is_private": c.private, "is_archived": c.archived, "created": c.created,
        "creator": c.creator,
        "is_member": c.members.contains(BOT_USER),
        "topic": { "value": c.topic, "creator": "", "last_set": 0 },
        "purpose": { "value": "", "creator": "", "last_set": 0 },
    })
}

/// The scope a channel-managing method needs on a channel of this kind
/// (docs.slack.dev/reference/methods/conversations.create, "Scopes": `channels:manage` for
/// public channels, `groups:write` for private ones).
pub(super) fn manage_scope(private: bool) -> &'static str {
    if private {
        "groups:write"
    } else {
        "channels:manage"
    }
}

/// docs.slack.dev/reference/methods/conversations.create: the name rules (see
/// `rules::channel_name`) and `name_taken`, which archived channels keep.
fn create(w: &mut Workspace, name: &str, private: bool) -> Result<Value, Answer> {
    w.need(manage_scope(private))?;
    rules::channel_name(name).map_err(err)?;
    if w.channels.values().any(|c| c.name == name) {
        return Err(err("name_taken"));
    }
    w.next_channel += 1;
    let id = format!("C{:07}", w.next_channel);
    w.channels.insert(
        id.clone(),
        Channel {
            id: id.clone(),
            name: name.to_owned(),
            private,
            members: BTreeSet::from([BOT_USER.to_owned()]),
            // "creator": the user who made it; "created": when, in Unix seconds
            // (docs.slack.dev/reference/objects/conversation-object).
            creator: BOT_USER.to_owned(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0)),
            ..Channel::default()
        },
    );
    Ok(json!({ "channel": channel_json(&w.channels[&id]) }))
}

/// docs.slack.dev/reference/methods/conversations.setTopic, "Errors": `too_long`,
/// `not_in_channel`, `is_archived`, `channel_not_found`.
fn set_topic(w: &mut Workspace, channel: &str, topic: &str) -> Result<Value, Answer> {
    let private = w.by_id(channel)?.private;
    w.need(manage_scope(private))?;
    let c = w.by_id(channel)?;
    rules::topic(topic).map_err(err)?;
    if c.archived {
        return Err(err("is_archived"));
    }
    if !c.members.contains(BOT_USER) {
        return Err(err("not_in_channel"));
    }
    c.topic = topic.to_owned();
    Ok(json!({ "channel": channel_json(c) }))
}

/// https://api.slack.com/methods/conversations.archive: "channel: ID of conversation to
/// archive" (a name is `channel_not_found`, as is a private channel the bot is not in); scopes
/// `channels:manage` (public) or `groups:write` (private); "Errors": `already_archived`
/// ("Channel has already been archived"), `cant_archive_general` ("You cannot archive the
/// general channel"), `not_in_channel` ("The token can not be found in channel"),
/// `channel_not_found`. An archived channel then refuses posts with `is_archived` (see `post`).
fn archive(w: &mut Workspace, channel: &str) -> Result<Value, Answer> {
    let private = w.by_id(channel)?.private;
    w.need(manage_scope(private))?;
    let c = w.by_id(channel)?;
    if c.archived {
        return Err(err("already_archived"));
    }
    if c.id == GENERAL {
        return Err(err("cant_archive_general"));
    }
    if !c.members.contains(BOT_USER) {
        return Err(err("not_in_channel"));
    }
    c.archived = true;
    Ok(json!({}))
}

/// docs.slack.dev/reference/methods/conversations.list: `types` (default `public_channel`),
/// `exclude_archived`, `limit` (at most 1000) and `cursor`, with `response_metadata.next_cursor`
/// empty on the last page. Public channels need `channels:read`, private ones `groups:read`;
/// a bot sees only the private channels it is in.
fn list(w: &mut Workspace, body: &Value) -> Result<Value, Answer> {
    let types = body["types"].as_str().unwrap_or("public_channel");
    let public = types.split(',').any(|t| t == "public_channel");
    let private = types.split(',').any(|t| t == "private_channel");
    if public {
        w.need("channels:read")?;
    }
    if private {
        w.need("groups:read")?;
    }
    let exclude_archived = body["exclude_archived"] == true || body["exclude_archived"] == "true";
    let limit: usize = body["limit"]
        .as_str()
        .and_then(|l| l.parse().ok())
        .or(body["limit"].as_u64().and_then(|l| usize::try_from(l).ok()))
        .unwrap_or(100)
        .clamp(1, 1000);
    let after = body["cursor"].as_str().unwrap_or("");
    let visible: Vec<&Channel> = w
        .channels
        .values()
        // IMs are listed only with `types=im`, which Klaxon never asks for.
        .filter(|c| c.im.is_none())
        .filter(|c| {
            if c.private {
                private && c.members.contains(BOT_USER)
            } else {
                public
            }
        })
        .filter(|c| !(exclude_archived && c.archived))
        .filter(|c| after.is_empty() || c.id.as_str() > after)
        .collect();
    let page: Vec<Value> = visible
        .iter()
        .take(limit)
        .map(|c| channel_json(c))
        .collect();
    let next = if visible.len() > limit {
        visible[limit - 1].id.clone()
    } else {
        String::new()
    };
    Ok(json!({ "channels": page, "response_metadata": { "next_cursor": next } }))
}

/// docs.slack.dev/reference/methods/conversations.info: `channel_not_found` for a channel the
/// caller cannot see.
fn info(w: &mut Workspace, channel: &str) -> Result<Value, Answer> {
    let private = w.by_id(channel)?.private;
    w.need(if private {
        "groups:read"
    } else {
        "channels:read"
    })?;
    Ok(json!({ "channel": channel_json(w.by_id(channel)?) }))
}

/// docs.slack.dev/reference/methods/chat.postMessage: a name or an ID, answered with the
/// channel's ID; "Errors": `not_in_channel` (a public channel the bot is not in, without
/// `chat:write.public`), `is_archived`, the message limits of `rules::message`, and
/// `invalid_metadata_format` (see `rules::metadata`). The message keeps its metadata, which
/// `conversations.history` returns with `include_all_metadata`.
fn post(w: &mut Workspace, channel: &str, body: &Value) -> Result<Value, Answer> {
    w.need("chat:write")?;
    let public_ok = w.scopes.contains("chat:write.public");
    rules::message(body).map_err(err)?;
    let metadata = rules::metadata(&body["metadata"]).map_err(err)?;
    let ts = w.ts();
    let c = w.by_id_or_name(channel)?;
    if c.archived {
        return Err(err("is_archived"));
    }
    if !c.members.contains(BOT_USER) && !public_ok {
        return Err(err("not_in_channel"));
    }
    let mut message = json!({
        "type": "message", "ts": ts, "text": body["text"], "blocks": body["blocks"],
        "user": BOT_USER, "bot_id": "B0KLAXON",
    });
    if let Some(m) = metadata {
        message["metadata"] = m;
    }
    c.posts.insert(ts.clone(), message.clone());
    Ok(json!({ "channel": c.id, "ts": ts, "message": message }))
}

/// docs.slack.dev/reference/methods/chat.postEphemeral: "Errors": `user_not_in_channel`
/// (the user must be in the channel), and the message limits.
fn ephemeral(w: &mut Workspace, channel: &str, user: &str, body: &Value) -> Result<Value, Answer> {
    w.need("chat:write")?;
    rules::message(body).map_err(err)?;
    let c = w.by_id_or_name(channel)?;
    if !c.members.contains(user) {
        return Err(err("user_not_in_channel"));
    }
    Ok(json!({ "message_ts": "1763888400.999999" }))
}

/// docs.slack.dev/reference/methods/chat.update: the channel by ID; "Errors":
/// `message_not_found`, `cant_update_message` (not the app's own message), `is_archived`, and
/// the message limits.
fn update(w: &mut Workspace, channel: &str, ts: &str, body: &Value) -> Result<Value, Answer> {
    w.need("chat:write")?;
    rules::message(body).map_err(err)?;
    let people = w.messages.get(channel).cloned().unwrap_or_default();
    let c = w.by_id(channel)?;
    if c.archived {
        return Err(err("is_archived"));
    }
    let Some(message) = c.posts.get_mut(ts) else {
        return Err(err(if people.iter().any(|m| m["ts"] == ts) {
            "cant_update_message"
        } else {
            "message_not_found"
        }));
    };
    message["text"] = body["text"].clone();
    message["blocks"] = body["blocks"].clone();
    Ok(json!({ "channel": c.id, "ts": ts, "message": message.clone() }))
}

/// docs.slack.dev/reference/methods/pins.add: channel ID and the `timestamp` of a message in
/// it; "Errors": `message_not_found`, `already_pinned`.
fn pin(w: &mut Workspace, channel: &str, ts: &str) -> Result<Value, Answer> {
    w.need("pins:write")?;
    let people = w.messages.get(channel).cloned().unwrap_or_default();
    let c = w.by_id(channel)?;
    if !c.posts.contains_key(ts) && !people.iter().any(|m| m["ts"] == ts) {
        return Err(err("message_not_found"));
    }
    if !c.pins.insert(ts.to_owned()) {
        return Err(err("already_pinned"));
    }
    Ok(json!({}))
}

/// docs.slack.dev/reference/methods/reactions.add: channel ID; "Errors": `message_not_found`,
/// `already_reacted`, `invalid_name`.
fn react(w: &mut Workspace, channel: &str, ts: &str, name: &str) -> Result<Value, Answer> {
    w.by_id(channel)?;
    w.need("reactions:write")?;
    let c = w.by_id(channel)?;
    if name.is_empty() {
        return Err(err("invalid_name"));
    }
    let Some(message) = c.posts.get_mut(ts) else {
        return Err(err("message_not_found"));
    };
    let mut reactions = message["reactions"].as_array().cloned().unwrap_or_default();
    if reactions.iter().any(|r| r == name) {
        return Err(err("already_reacted"));
    }
    reactions.push(name.into());
    message["reactions"] = reactions.into();
    Ok(json!({}))
}

/// docs.slack.dev/reference/methods/users.info: needs `users:read`; `user_not_found`.
fn user(w: &mut Workspace, user: &str) -> Result<Value, Answer> {
    w.need("users:read")?;
    let name = w.users.get(user).ok_or_else(|| err("user_not_found"))?;
    Ok(json!({ "user": {
        "id": user, "team_id": TEAM, "name": name, "deleted": false, "is_bot": user == BOT_USER,
        "real_name": name,
        "profile": { "display_name": name, "real_name": name },
    }}))
}

/// docs.slack.dev/reference/methods/views.open: a `trigger_id` is single use and expires after
/// three seconds ("Errors": `invalid_trigger_id`, `exchanged_trigger_id`,
/// `expired_trigger_id`; docs.slack.dev/interactivity/handling-user-interaction: "expires in 3
/// seconds"); the view must be valid (`rules::view`).
pub(super) fn use_trigger(w: &mut Workspace, trigger: &str, view: &Value) -> Result<(), Answer> {
    let Some(t) = w.triggers.get_mut(trigger) else {
        return Err(err("invalid_trigger_id"));
    };
    if t.used {
        return Err(err("exchanged_trigger_id"));
    }
    if t.issued.elapsed() > Duration::from_secs(3) {
        return Err(err("expired_trigger_id"));
    }
    t.used = true;
    rules::view(view).map_err(err)
}

/// The channel an ID-only method named, for the methods served in `fake_slack.rs`.
pub(super) fn visible(w: &mut Workspace, channel: &str) -> Result<(), Answer> {
    w.by_id(channel).map(|_| ())
}
