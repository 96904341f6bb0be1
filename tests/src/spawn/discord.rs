//! Steps that Discord tests repeat, on a [`Bot`] spawned against the fake Discord.

use klaxon::app::PlatformSettings;
use klaxon::config::Config;
use serde_json::{Value, json};

use super::Bot;
use crate::fake_discord::{self, FakeDiscord, GENERAL, GUILD, PAGING};
use crate::scenario;

const CATEGORY: &str = fake_discord::CATEGORY;
/// The user who runs the scenario.
pub const ONCALL: &str = "100000000000000001";
const ROLE: &str = fake_discord::ROLE;

/// The Discord tests' configuration: the checklist off, the fake's paging channel and
/// category, a SEV1 role mention; `toml` before it (it must not set `[discord]`).
pub fn config(toml: &str) -> Config {
    Config::parse(&config_text(toml)).expect("config")
}

/// [`config`] as the text of a `klaxon.toml`, for a `klaxon` process.
pub fn config_text(toml: &str) -> String {
    format!(
        "checklist = []\n{toml}\n[discord]\npaging_channel = \"{PAGING}\"\ncategory = \"{CATEGORY}\"\nsev1_mention = \"<@&{ROLE}>\"\n"
    )
}

/// Klaxon pointed at `fake`, over the gateway.
pub fn settings(fake: &FakeDiscord) -> PlatformSettings {
    PlatformSettings {
        discord_token: Some(fake_discord::TOKEN.to_owned().into()),
        discord_application_id: Some(fake_discord::APPLICATION_ID.parse().expect("id")),
        discord_guild_ids: vec![GUILD.parse().expect("id")],
        discord_api_url: Some(fake.api_url.clone()),
        ..PlatformSettings::default()
    }
}

impl Bot<FakeDiscord> {
    /// `/inc <line>` typed by `user` in `channel`, as typed options; Klaxon's first response.
    pub async fn say(&self, user: &str, channel: &str, line: &str) -> Value {
        let (group, sub, options) = scenario::discord_options(line, &user_id);
        let id = next_id();
        let interaction = match group {
            Some(g) => fake_discord::slash_group(&id, user, channel, g, &sub, options),
            None => fake_discord::slash(&id, user, channel, &sub, options),
        };
        self.fake.interact(interaction).await
    }

    /// `/inc declare …` from #general, answered without a refusal; waits for the incident
    /// channel to be created and returns its id.
    pub async fn declare(&self, line: &str) -> String {
        let text = ephemeral(&self.say(ONCALL, GENERAL, line).await);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
        self.new_channel(line).await
    }

    /// Waits until the channel a declare asked for is created and Klaxon knows it; its id.
    pub async fn new_channel(&self, line: &str) -> String {
        let created = self
            .fake
            .until(|f| {
                !f.calls_to("POST", &format!("/guilds/{GUILD}/channels"))
                    .is_empty()
            })
            .await;
        assert!(created, "no channel for {line}: {:#?}", self.fake.calls());
        let id = created_channel(&self.fake).0;
        // The summary's post in the new channel is made only after Klaxon committed the
        // channel's id: before that, a command typed there is not yet in an incident channel.
        let known = self
            .fake
            .until(|f| {
                !f.calls_to("POST", &format!("/channels/{id}/messages"))
                    .is_empty()
            })
            .await;
        assert!(known, "nothing posted in {id}: {:#?}", self.fake.calls());
        id
    }

    /// Waits until every announcement edit has reached the fake and returns the newest.
    pub async fn announcement_edit(&self, containing: &str) -> Value {
        let found = self
            .fake
            .until(|f| {
                f.calls_to("PATCH", &format!("/channels/{PAGING}/messages/*"))
                    .iter()
                    .any(|b| b.to_string().contains(containing))
            })
            .await;
        assert!(
            found,
            "no announcement edit with {containing}: {:#?}",
            self.fake.calls()
        );
        self.fake
            .calls_to("PATCH", &format!("/channels/{PAGING}/messages/*"))
            .into_iter()
            .rev()
            .find(|b| b.to_string().contains(containing))
            .expect("edit")
    }
}

pub fn user_id(name: &str) -> String {
    match name {
        "alice" => "100000000000000011".to_owned(),
        "bob" => "100000000000000012".to_owned(),
        _ => "100000000000000099".to_owned(),
    }
}

pub fn next_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}",
        400_000_000_000_000_000u64 + N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An ephemeral message response (type 4, flags 64) and its text.
#[track_caller]
pub fn ephemeral(response: &Value) -> String {
    assert_eq!(response["type"], 4, "{response}");
    assert_eq!(response["data"]["flags"], 64, "{response}");
    assert_eq!(
        response["data"]["allowed_mentions"]["parse"],
        json!([]),
        "{response}"
    );
    response["data"]["content"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The incident channel Klaxon created (the newest), by id.
pub fn created_channel(fake: &FakeDiscord) -> (String, Value) {
    let created = fake.calls_to("POST", &format!("/guilds/{GUILD}/channels"));
    let body = created.last().cloned().expect("a channel was created");
    let name = body["name"].as_str().expect("name").to_owned();
    let made = fake.channel_named(&name).expect("exists");
    (made.id, body)
}

/// The key the tests sign Discord's HTTP interactions with (Discord's own, in production).
pub fn signing_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

/// [`signing_key`]'s public half, hex, as `DISCORD_PUBLIC_KEY` takes it.
pub fn public_key_hex() -> String {
    hex::encode(signing_key().verifying_key().to_bytes())
}

/// Posts `body` to Klaxon's `/discord/interactions` at `url`, signed with `key` at
/// `timestamp` as Discord signs (Ed25519 over the timestamp and the body).
pub async fn post_signed(
    url: &str,
    body: &Value,
    timestamp: i64,
    key: &ed25519_dalek::SigningKey,
) -> reqwest::Response {
    try_post_signed(url, body, timestamp, key)
        .await
        .expect("post")
}

/// [`post_signed`], an error when Klaxon does not answer (it was killed).
pub async fn try_post_signed(
    url: &str,
    body: &Value,
    timestamp: i64,
    key: &ed25519_dalek::SigningKey,
) -> reqwest::Result<reqwest::Response> {
    use ed25519_dalek::Signer as _;
    let body = body.to_string();
    let ts = timestamp.to_string();
    let signature = key.sign(format!("{ts}{body}").as_bytes());
    reqwest::Client::new()
        .post(format!("{url}/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", hex::encode(signature.to_bytes()))
        .header("x-signature-timestamp", ts)
        .body(body)
        .send()
        .await
}
