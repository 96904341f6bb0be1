//! Discord over the gateway and the signed HTTP endpoint, against the fake Discord: command
//! registration, the shared scenario as typed options, buttons and the update modal, deferred
//! responses, reconnects, rate limits, mention injection and a restart with calls pending.

use std::time::Duration;

use klaxon::app::{PlatformSettings, serve};
use klaxon::config::Config;
use klaxon::store::Store;
use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD, PAGING};
use klaxon_tests::scenario;
use serde_json::{Value, json};

const CATEGORY: &str = fake_discord::CATEGORY;
pub(crate) const ONCALL: &str = "100000000000000001";
const ROLE: &str = fake_discord::ROLE;

pub(crate) struct Running {
    pub(crate) url: String,
    pub(crate) fake: FakeDiscord,
    pub(crate) store_path: std::path::PathBuf,
    pub(crate) stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(crate) done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) fn config() -> Config {
    Config::parse(&format!(
        "checklist = []\n[discord]\npaging_channel = \"{PAGING}\"\ncategory = \"{CATEGORY}\"\nsev1_mention = \"<@&{ROLE}>\"\n"
    ))
    .expect("config")
}

pub(crate) fn settings(fake: &FakeDiscord) -> PlatformSettings {
    PlatformSettings {
        discord_token: Some(fake_discord::TOKEN.to_owned().into()),
        discord_application_id: Some(fake_discord::APPLICATION_ID.parse().expect("id")),
        discord_guild_ids: vec![GUILD.parse().expect("id")],
        discord_api_url: Some(fake.api_url.clone()),
        ..PlatformSettings::default()
    }
}

impl Running {
    pub(crate) async fn start() -> Self {
        let fake = FakeDiscord::start().await;
        let s = settings(&fake);
        Self::start_with(fake, s, tempfile::tempdir().expect("tmp")).await
    }

    pub(crate) async fn start_with(
        fake: FakeDiscord,
        settings: PlatformSettings,
        dir: tempfile::TempDir,
    ) -> Self {
        Self::start_full(fake, settings, dir, config()).await
    }

    pub(crate) async fn start_full(
        fake: FakeDiscord,
        settings: PlatformSettings,
        dir: tempfile::TempDir,
        config: Config,
    ) -> Self {
        let store_path = dir.path().join("k.db");
        let store = Store::open(store_path.to_str().expect("utf-8"))
            .await
            .expect("store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(serve(store, config, settings, listener, async move {
            let _ = stopped.await;
        }));
        if !fake.until(FakeDiscord::connected).await {
            let why = if done.is_finished() {
                format!("{:?}", done.await)
            } else {
                "still running".to_owned()
            };
            panic!(
                "Klaxon never connected to the fake gateway ({why}): {:?}",
                fake.calls()
                    .iter()
                    .map(|c| format!("{} {}", c.method, c.path))
                    .collect::<Vec<_>>()
            );
        }
        Self {
            url,
            fake,
            store_path,
            stop: Some(stop),
            done: Some(done),
            dir,
        }
    }

    pub(crate) async fn stop(mut self) -> (FakeDiscord, tempfile::TempDir) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("join").expect("serve ends cleanly");
        }
        (self.fake, self.dir)
    }

    /// `/inc <line>` typed by `user` in `channel`, as typed options; Klaxon's first response.
    pub(crate) async fn say(&self, user: &str, channel: &str, line: &str) -> Value {
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
    pub(crate) async fn declare(&self, line: &str) -> String {
        let text = ephemeral(&self.say(ONCALL, GENERAL, line).await);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
        self.new_channel(line).await
    }

    /// Waits until the channel a declare asked for is created and Klaxon knows it; its id.
    pub(crate) async fn new_channel(&self, line: &str) -> String {
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
    pub(crate) async fn announcement_edit(&self, containing: &str) -> Value {
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

pub(crate) fn user_id(name: &str) -> String {
    match name {
        "alice" => "100000000000000011".to_owned(),
        "bob" => "100000000000000012".to_owned(),
        _ => "100000000000000099".to_owned(),
    }
}

pub(crate) fn next_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!(
        "{}",
        400_000_000_000_000_000u64 + N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An ephemeral message response (type 4, flags 64) and its text.
#[track_caller]
pub(crate) fn ephemeral(response: &Value) -> String {
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
pub(crate) fn created_channel(fake: &FakeDiscord) -> (String, Value) {
    let created = fake.calls_to("POST", &format!("/guilds/{GUILD}/channels"));
    let body = created.last().cloned().expect("a channel was created");
    let name = body["name"].as_str().expect("name").to_owned();
    let made = fake.channel_named(&name).expect("exists");
    (made.id, body)
}

#[tokio::test]
async fn slash_commands_are_registered_from_the_spec_in_one_overwrite() {
    let k = Running::start().await;
    let puts = k.fake.calls_to(
        "PUT",
        &format!(
            "/applications/{}/guilds/{GUILD}/commands",
            fake_discord::APPLICATION_ID
        ),
    );
    assert_eq!(puts.len(), 1, "one bulk overwrite");
    let commands = puts[0].as_array().expect("a list");
    assert_eq!(commands.len(), 2);
    let inc = &commands[0];
    assert_eq!(inc["name"], "inc");
    assert_eq!(inc["dm_permission"], false);
    let subs = inc["options"].as_array().expect("subcommands");
    assert!(subs.len() <= 25);
    let sub = |name: &str| {
        subs.iter()
            .find(|s| s["name"] == name)
            .cloned()
            .expect(name)
    };
    let declare = sub("declare");
    assert_eq!(declare["type"], 1);
    assert_eq!(declare["options"][0]["name"], "title");
    assert_eq!(declare["options"][0]["type"], 3);
    let option = |name: &str| {
        declare["options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["name"] == name))
            .cloned()
            .expect(name)
    };
    assert_eq!(option("private")["type"], 5, "a flag is a BOOLEAN option");
    assert_eq!(
        option("severity")["choices"],
        json!([
            {"name": "SEV1", "value": "sev1"}, {"name": "SEV2", "value": "sev2"},
            {"name": "SEV3", "value": "sev3"}, {"name": "SEV4", "value": "sev4"}
        ])
    );
    assert_eq!(
        sub("role")["options"][1]["type"],
        6,
        "people are USER options"
    );
    assert_eq!(
        sub("timeline")["options"][0]["type"],
        4,
        "counts are INTEGER"
    );
    assert_eq!(sub("checklist")["type"], 2, "a group");
    assert_eq!(commands[1]["name"], "Add to timeline");
    assert_eq!(commands[1]["type"], 3, "a message command");
    let _ = k.stop().await;
}

#[tokio::test]
async fn the_foundation_scenario_runs_over_the_gateway() {
    let k = Running::start().await;
    let mut channel = GENERAL.to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        let response = k.say(ONCALL, &channel, line).await;
        let text = ephemeral(&response);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
        if n == 0 {
            assert!(
                k.fake
                    .until(|f| !f
                        .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
                        .is_empty())
                    .await
            );
            let (id, body) = created_channel(&k.fake);
            assert_eq!(
                body["name"],
                format!(
                    "inc-{}-checkout-api-returning-500s",
                    chrono::Utc::now().format("%Y-%m-%d")
                )
            );
            assert_eq!(body["type"], 0);
            assert_eq!(body["parent_id"], CATEGORY);
            assert!(body["topic"].as_str().unwrap_or("").contains("SEV2"));
            // The declarer can see the channel.
            assert!(
                body["permission_overwrites"]
                    .as_array()
                    .expect("overwrites")
                    .iter()
                    .any(|o| o["id"] == ONCALL && o["type"] == 1),
                "{body}"
            );
            channel = id;
        }
    }
    let resolved = k.announcement_edit("Resolved").await;
    assert_eq!(resolved["embeds"][0]["color"], 0x002E_A043);
    assert!(
        resolved["embeds"][0]["description"]
            .as_str()
            .unwrap_or("")
            .starts_with("**✅ Resolved · SEV1 · INC-1 ·** Checkout API returning 500s"),
        "{resolved}"
    );
    assert_eq!(
        resolved["components"],
        json!([]),
        "no buttons once resolved"
    );
    let posts = k.fake.calls_to("POST", "/channels/*/messages");
    // Every message says whom it may notify; nothing may ping everyone.
    for call in k.fake.calls() {
        if call.path.contains("/messages") && call.method != "PUT" {
            assert!(call.body.get("allowed_mentions").is_some(), "{call:?}");
            assert_eq!(
                call.body["allowed_mentions"]["parse"],
                json!([]),
                "{call:?}"
            );
        }
    }
    let announcement = k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"));
    assert_eq!(
        announcement[0]["embeds"][0]["color"], 0x00F4_6D00,
        "SEV2 is orange"
    );
    assert_eq!(
        announcement[0]["components"][0]["components"][0]["custom_id"],
        "klaxon:ack:1"
    );
    // Raising to SEV1 paged the configured role, and only that role.
    let page = announcement
        .iter()
        .find(|p| {
            p["content"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("<@&{ROLE}>"))
        })
        .expect("the SEV1 page");
    assert_eq!(page["allowed_mentions"]["roles"], json!([ROLE]));
    assert!(
        posts
            .iter()
            .any(|p| p["content"].as_str().unwrap_or("").contains("📣 Update"))
    );
    assert_eq!(
        k.fake
            .calls_to("PUT", &format!("/channels/{channel}/pins/*"))
            .len(),
        1
    );
    let path = k.store_path.clone();
    let _dir = k.stop().await;
    let store = Store::open(path.to_str().expect("utf-8"))
        .await
        .expect("store");
    let mut conn = store.conn().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Discord, GUILD);
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, 1)
        .await
        .expect("q")
        .expect("INC-1");
    let kinds: Vec<String> = klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("tl")
        .into_iter()
        .map(|e| e.kind.word().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("declared"));
    assert_eq!(kinds.last().map(String::as_str), Some("resolved"));
    assert_eq!(kinds.len(), 8, "{kinds:?}");
}

#[tokio::test]
async fn bad_options_get_the_grammars_refusal_and_change_nothing() {
    let k = Running::start().await;
    let r = k.say(ONCALL, GENERAL, "/inc ack").await;
    let text = ephemeral(&r);
    assert!(text.starts_with("⚠️"), "{text}");
    let r = k
        .fake
        .interact(fake_discord::slash_group(
            &next_id(),
            ONCALL,
            GENERAL,
            "checklist",
            "check",
            json!([{ "name": "item", "type": 4, "value": 0 }]),
        ))
        .await;
    let text = ephemeral(&r);
    let grammar = klaxon_commands::parse("check 0", klaxon_commands::PlatformKind::Discord)
        .expect_err("refused");
    assert!(
        text.contains(&grammar.text().replace('`', "\\`")) || text.contains(grammar.text()),
        "{text}"
    );
    let r = k
        .fake
        .interact(fake_discord::slash(
            &next_id(),
            ONCALL,
            GENERAL,
            "declare",
            json!([{ "name": "title", "type": 3, "value": "   " }]),
        ))
        .await;
    assert!(ephemeral(&r).starts_with("⚠️"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .is_empty()
    );
    assert!(k.fake.calls_to("POST", "/channels/*/messages").is_empty());
    let _ = k.stop().await;
}

#[tokio::test]
async fn titles_cannot_ping_or_format_and_names_never_collide() {
    let k = Running::start().await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    k.fake.take_name(&format!("inc-{today}-everyone-here-1-x"));
    let r = k
        .fake
        .interact(fake_discord::slash(
            &next_id(),
            ONCALL,
            GENERAL,
            "declare",
            json!([{ "name": "title", "type": 3, "value": "@everyone @here <@&1> **x**" }]),
        ))
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/channels/{PAGING}/messages"))
                .is_empty())
            .await
    );
    let (_, created) = created_channel(&k.fake);
    assert_eq!(created["name"], format!("inc-{today}-everyone-here-1-x-2"));
    let announcement = &k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"))[0];
    let shown = announcement.to_string();
    assert!(
        !shown.contains("@everyone") && !shown.contains("@here"),
        "{shown}"
    );
    assert!(
        !shown.contains("<@&1>") && !shown.contains("**x**"),
        "{shown}"
    );
    assert_eq!(announcement["allowed_mentions"]["parse"], json!([]));
    assert_eq!(announcement["allowed_mentions"]["roles"], json!([]));
    let _ = k.stop().await;
}

#[tokio::test]
async fn buttons_ask_first_then_act_once_and_the_modal_posts_an_update() {
    let k = Running::start().await;
    ephemeral(
        &k.say(ONCALL, GENERAL, "/inc declare sev2 Payments timing out")
            .await,
    );
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/channels/{PAGING}/messages"))
                .is_empty())
            .await
    );
    let (channel, _) = created_channel(&k.fake);
    // Acknowledge from the announcement: one effect even when clicked twice.
    let ack = fake_discord::click(
        &next_id(),
        ONCALL,
        PAGING,
        "klaxon:ack:1",
        "650000000000000001",
    );
    let text = ephemeral(&k.fake.interact(ack.clone()).await);
    assert!(!text.starts_with("⚠️"), "{text}");
    let again = ephemeral(&k.fake.interact(ack).await);
    assert_eq!(text, again, "a redelivery gets the same reply");
    let edit = k.announcement_edit("Acknowledged").await;
    assert!(
        !edit["components"].to_string().contains("klaxon:ack:1"),
        "the Acknowledge button is gone: {edit}"
    );
    // Resolve asks first.
    let ask = k
        .fake
        .interact(fake_discord::click(
            &next_id(),
            ONCALL,
            PAGING,
            "klaxon:resolve?:1",
            "650000000000000001",
        ))
        .await;
    assert!(ephemeral(&ask).starts_with("Resolve INC-1?"));
    assert_eq!(
        ask["data"]["components"][0]["components"][0]["custom_id"],
        "klaxon:resolve:1"
    );
    // Post update (a button under the pinned summary) opens the update form…
    let summary = k
        .fake
        .calls_to("POST", &format!("/channels/{channel}/messages"))
        .into_iter()
        .find(|p| p["components"].to_string().contains("klaxon:update:1"))
        .expect("the summary has a Post update button");
    assert!(summary["content"].as_str().is_some_and(|c| !c.is_empty()));
    let form = k
        .fake
        .interact(fake_discord::click(
            &next_id(),
            ONCALL,
            &channel,
            "klaxon:update:1",
            "650000000000000002",
        ))
        .await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    assert_eq!(form["data"]["custom_id"], "klaxon:update:1");
    assert_eq!(
        form["data"]["components"][0]["components"][0]["custom_id"],
        "text"
    );
    // …whose submission is the update.
    let r = k
        .fake
        .interact(fake_discord::submit(
            &next_id(),
            ONCALL,
            &channel,
            "klaxon:update:1",
            "text",
            "Failover done",
        ))
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    let r = k
        .fake
        .interact(fake_discord::click(
            &next_id(),
            ONCALL,
            PAGING,
            "klaxon:resolve:1",
            "650000000000000001",
        ))
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    k.announcement_edit("Resolved").await;
    assert!(
        k.fake
            .calls_to("POST", &format!("/channels/{channel}/messages"))
            .iter()
            .any(|p| p["content"]
                .as_str()
                .unwrap_or("")
                .contains("Failover done"))
    );
    let _ = k.stop().await;
}

#[tokio::test]
async fn a_slow_engine_defers_then_edits_the_response() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    // Always defer: the result then comes as an edit of the original response.
    s.discord_defer_after = Duration::ZERO;
    let k = Running::start_with(fake, s, tempfile::tempdir().expect("tmp")).await;
    let r = k
        .say(ONCALL, GENERAL, "/inc declare sev3 Slow search")
        .await;
    assert_eq!(r["type"], 5, "deferred: {r}");
    assert_eq!(r["data"]["flags"], 64);
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("PATCH", "/webhooks/*/*/messages/@original")
                .is_empty())
            .await
    );
    let edit = &k.fake.calls_to("PATCH", "/webhooks/*/*/messages/@original")[0];
    assert!(
        edit["content"]
            .as_str()
            .unwrap_or("")
            .contains("INC-1 declared"),
        "{edit}"
    );
    assert_eq!(
        edit["allowed_mentions"]["parse"],
        json!([]),
        "set on every edit"
    );
    let _ = k.stop().await;
}

#[tokio::test]
async fn a_slow_discord_does_not_slow_the_first_response() {
    let k = Running::start().await;
    // Every REST call (channel, posts) now takes 2 s; the answer must not wait for them.
    k.fake.set_latency(Duration::from_secs(2));
    let sent = std::time::Instant::now();
    let r = k
        .say(ONCALL, GENERAL, "/inc declare sev2 Slow Discord")
        .await;
    // The callback itself went through the slow fake: what is left is Klaxon's own time.
    assert_eq!(r["type"], 4, "answered, not deferred: {r}");
    assert!(
        sent.elapsed() < Duration::from_millis(2000 + 1500),
        "{:?}",
        sent.elapsed()
    );
    assert!(ephemeral(&r).contains("INC-1 declared"));
    let _ = k.stop().await;
}

#[tokio::test]
async fn the_token_never_appears_in_logs() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("klaxon.toml"),
        format!("checklist = []\n[discord]\npaging_channel = \"{PAGING}\"\n"),
    )
    .expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = crate::cli::klaxon()
        .args([
            "run",
            "--db",
            dir.path().join("k.db").to_str().expect("utf-8"),
        ])
        .current_dir(dir.path())
        .env("DISCORD_TOKEN", fake_discord::TOKEN)
        .env("DISCORD_APPLICATION_ID", fake_discord::APPLICATION_ID)
        .env("DISCORD_GUILD_IDS", GUILD)
        .env("DISCORD_API_URL", &fake.api_url)
        .env("KLAXON_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "trace")
        // To files: a full pipe nobody reads would stall the bot's logging.
        .stdout(std::fs::File::create(dir.path().join("out.log")).expect("log file"))
        .stderr(std::fs::File::create(dir.path().join("err.log")).expect("log file"))
        .spawn()
        .expect("spawn klaxon");
    let connected = fake.until(FakeDiscord::connected).await;
    if connected {
        let r = fake
            .interact(fake_discord::slash(
                &next_id(),
                ONCALL,
                GENERAL,
                "declare",
                json!([{ "name": "title", "type": 3, "value": "Token check" }]),
            ))
            .await;
        assert_eq!(r["type"], 4);
        fake.until(|f| !f.calls_to("PUT", "/channels/*/pins/*").is_empty())
            .await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let logs = format!(
        "{}{}",
        std::fs::read_to_string(dir.path().join("out.log")).unwrap_or_default(),
        std::fs::read_to_string(dir.path().join("err.log")).unwrap_or_default()
    );
    let tail: String = logs
        .lines()
        .filter(|l| !l.contains("sqlx::query"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        connected,
        "{tail}\n{:?}",
        fake.calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect::<Vec<_>>()
    );
    assert!(
        logs.len() > 1000,
        "trace logging was on: {} bytes",
        logs.len()
    );
    assert!(
        !logs.contains(fake_discord::TOKEN),
        "the token leaked into the logs"
    );
}

#[tokio::test]
async fn the_gateway_resumes_after_reconnect_and_drops_mid_incident() {
    let k = Running::start().await;
    let channel = k.declare("/inc declare sev2 Queue backlog").await;
    k.fake.request_reconnect();
    assert!(
        k.fake.until(|f| f.sessions().1 >= 1).await,
        "no RESUME after op 7"
    );
    let text = ephemeral(&k.say(ONCALL, &channel, "/inc ack").await);
    assert!(!text.starts_with("⚠️"), "{text}");
    k.fake.drop_connection();
    assert!(
        k.fake
            .until(|f| f.connected() && f.sessions().0 + f.sessions().1 >= 3)
            .await,
        "no reconnect after a drop: {:?}",
        k.fake.sessions()
    );
    let text = ephemeral(
        &k.say(ONCALL, &channel, "/inc update Draining the queue")
            .await,
    );
    assert!(!text.starts_with("⚠️"), "{text}");
    let ready = reqwest::get(format!("{}/readyz", k.url))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    let _ = k.stop().await;
}

#[tokio::test]
async fn rate_limits_and_outages_delay_calls_but_lose_none_and_keep_order() {
    let k = Running::start().await;
    // The next REST calls answer 429, then 502: the outbox waits and retries.
    k.fake.force([429, 502]);
    ephemeral(
        &k.say(ONCALL, GENERAL, "/inc declare sev2 Rate limited")
            .await,
    );
    let found = k
        .fake
        .until(|f| !f.calls_to("PUT", "/channels/*/pins/*").is_empty())
        .await;
    assert!(found, "{:#?}", k.fake.calls());
    let calls = k.fake.calls();
    let order: Vec<&str> = calls
        .iter()
        .filter(|c| c.method != "GET")
        .map(|c| c.path.as_str())
        .collect();
    let create = order
        .iter()
        .position(|p| p.ends_with("/channels") && p.starts_with("/guilds"));
    let pin = order.iter().position(|p| p.contains("/pins/"));
    assert!(create < pin, "{order:?}");
    let _ = k.stop().await;
}

#[tokio::test]
async fn a_503_with_retry_after_waits_that_long_and_other_incidents_go_on() {
    use klaxon_commands::PlatformKind;
    let k = Running::start().await;
    let store = Store::open(k.store_path.to_str().expect("utf-8"))
        .await
        .expect("store");
    let before = std::time::Instant::now();
    // The first incident's first call (its channel) meets an outage that says "3 seconds".
    k.fake.force_retry_after(503, 3);
    ephemeral(
        &k.say(ONCALL, GENERAL, "/inc declare sev2 First outage")
            .await,
    );
    let pending = async || {
        let mut conn = store.conn().await.expect("conn");
        klaxon::store::outbox::pending(&mut conn, &[PlatformKind::Discord], 100)
            .await
            .expect("pending")
    };
    let mut postponed = None;
    for _ in 0..500 {
        postponed = pending().await.into_iter().find(|c| c.attempts == 1);
        if postponed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let call = postponed.expect("the refused call is recorded");
    assert!(
        matches!(call.op, klaxon::store::outbox::Op::CreateChannel { .. }),
        "{:?}",
        call.op
    );
    // Discord's wait, not the 1 s backoff.
    let wait = call.not_before.expect("postponed") - chrono::Utc::now();
    assert!(
        wait > chrono::Duration::milliseconds(1500) && wait <= chrono::Duration::seconds(3),
        "{wait}"
    );
    // Another incident is not held back by the waiting one.
    ephemeral(
        &k.say(ONCALL, GENERAL, "/inc declare sev2 Second outage")
            .await,
    );
    let created = |f: &FakeDiscord, what: &str| {
        f.calls()
            .into_iter()
            .filter(|c| {
                c.method == "POST"
                    && c.path == format!("/guilds/{GUILD}/channels")
                    && c.body["name"].as_str().is_some_and(|n| n.contains(what))
            })
            .map(|c| c.at)
            .collect::<Vec<_>>()
    };
    assert!(
        k.fake.until(|f| !created(f, "first").is_empty()).await,
        "{:#?}",
        k.fake.calls()
    );
    let (first, second) = (created(&k.fake, "first"), created(&k.fake, "second"));
    assert_eq!(first.len(), 1, "made once after the wait");
    assert_eq!(second.len(), 1);
    assert!(
        first[0] >= before + Duration::from_secs(3),
        "the wait was honoured"
    );
    assert!(second[0] < first[0], "the second incident went first");
    let _ = k.stop().await;
}

#[tokio::test]
async fn a_restart_between_response_and_platform_calls_completes_them() {
    let fake = FakeDiscord::start().await;
    let s = settings(&fake);
    let k = Running::start_with(fake, s, tempfile::tempdir().expect("tmp")).await;
    // Discord is failing: every call is a 503 for a while.
    k.fake.force(std::iter::repeat_n(503, 500));
    let r = k
        .say(ONCALL, GENERAL, "/inc declare sev1 Database failover")
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    let (fake, dir) = k.stop().await;
    assert!(
        fake.calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .is_empty()
    );
    // Discord is back; Klaxon starts again on the same database and finishes the job.
    fake.force(std::iter::empty());
    let healthy = FakeDiscord::start().await;
    let s = settings(&healthy);
    let k = Running::start_with(healthy, s, dir).await;
    assert!(
        k.fake
            .until(|f| !f.calls_to("PUT", "/channels/*/pins/*").is_empty())
            .await,
        "{:#?}",
        k.fake.calls()
    );
    assert_eq!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .len(),
        1
    );
    let _ = k.stop().await;
}

fn signing_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

fn public_key_hex() -> String {
    hex::encode(signing_key().verifying_key().to_bytes())
}

async fn post_signed(
    url: &str,
    body: &Value,
    timestamp: i64,
    key: &ed25519_dalek::SigningKey,
) -> reqwest::Response {
    use ed25519_dalek::Signer as _;
    let body = body.to_string();
    let ts = timestamp.to_string();
    let signature = key.sign(format!("{ts}{body}").as_bytes());
    let hex = hex::encode(signature.to_bytes());
    reqwest::Client::new()
        .post(format!("{url}/discord/interactions"))
        .header("content-type", "application/json")
        .header("x-signature-ed25519", hex)
        .header("x-signature-timestamp", ts)
        .body(body)
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn the_http_endpoint_checks_signatures_and_answers_like_the_gateway() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    s.discord_public_key = Some(public_key_hex());
    let k = Running::start_with(fake, s, tempfile::tempdir().expect("tmp")).await;
    let now = chrono::Utc::now().timestamp();
    let ping = fake_discord::ping(&next_id());
    let r = post_signed(&k.url, &ping, now, &signing_key()).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["type"], 1, "PONG");
    // Forged, stale and unsigned requests are refused and change nothing.
    let forged = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let declare = fake_discord::slash(
        &next_id(),
        ONCALL,
        GENERAL,
        "declare",
        json!([{ "name": "title", "type": 3, "value": "over http" }]),
    );
    assert_eq!(
        post_signed(&k.url, &declare, now, &forged)
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        post_signed(&k.url, &declare, now - 301, &signing_key())
            .await
            .status()
            .as_u16(),
        401
    );
    let unsigned = reqwest::Client::new()
        .post(format!("{}/discord/interactions", k.url))
        .body(declare.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status().as_u16(), 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .is_empty()
    );
    // A signed command is answered in the HTTP response itself.
    let r = post_signed(&k.url, &declare, now, &signing_key()).await;
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.expect("json");
    assert!(ephemeral(&body).contains("INC-1 declared"), "{body}");
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
                .is_empty())
            .await
    );
    let _ = k.stop().await;
}

#[tokio::test]
async fn the_foundation_scenario_runs_over_the_http_endpoint() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    s.discord_public_key = Some(public_key_hex());
    let k = Running::start_with(fake, s, tempfile::tempdir().expect("tmp")).await;
    let mut channel = GENERAL.to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        let (group, sub, options) = scenario::discord_options(line, &user_id);
        let id = next_id();
        let interaction = match group {
            Some(g) => fake_discord::slash_group(&id, ONCALL, &channel, g, &sub, options),
            None => fake_discord::slash(&id, ONCALL, &channel, &sub, options),
        };
        let now = chrono::Utc::now().timestamp();
        let r = post_signed(&k.url, &interaction, now, &signing_key()).await;
        assert_eq!(r.status().as_u16(), 200, "{line}");
        let body: Value = r.json().await.expect("json");
        let text = ephemeral(&body);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
        if n == 0 {
            channel = k.new_channel(line).await;
        }
    }
    let resolved = k.announcement_edit("Resolved").await;
    assert!(
        resolved["embeds"][0]["description"]
            .as_str()
            .unwrap_or("")
            .starts_with("**✅ Resolved · SEV1 · INC-1 ·** Checkout API returning 500s"),
        "{resolved}"
    );
    // Every message says whom it may notify, as over the gateway; nothing may ping everyone.
    for call in k.fake.calls() {
        if call.path.contains("/messages") && call.method != "PUT" {
            assert!(call.body.get("allowed_mentions").is_some(), "{call:?}");
            assert_eq!(
                call.body["allowed_mentions"]["parse"],
                json!([]),
                "{call:?}"
            );
        }
    }
    let _ = k.stop().await;
}

#[tokio::test]
async fn a_private_incident_hides_its_channel_and_redacts_the_announcement() {
    let k = Running::start().await;
    let r = k
        .fake
        .interact(fake_discord::slash(
            &next_id(),
            ONCALL,
            GENERAL,
            "declare",
            json!([
                { "name": "title", "type": 3, "value": "Leaked credentials in CI logs" },
                { "name": "severity", "type": 3, "value": "sev1" },
                { "name": "private", "type": 5, "value": true }
            ]),
        ))
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/channels/{PAGING}/messages"))
                .is_empty())
            .await
    );
    let (_, created) = created_channel(&k.fake);
    let overwrites = created["permission_overwrites"]
        .as_array()
        .expect("overwrites");
    let everyone = overwrites
        .iter()
        .find(|o| o["id"] == GUILD && o["type"] == 0)
        .expect("@everyone is denied");
    assert_eq!(everyone["deny"], "1024", "VIEW_CHANNEL");
    assert!(
        overwrites
            .iter()
            .any(|o| o["id"] == fake_discord::BOT_ID && o["type"] == 1)
    );
    assert!(
        overwrites
            .iter()
            .any(|o| o["id"] == ONCALL && o["type"] == 1)
    );
    for post in k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"))
    {
        let shown = post.to_string();
        assert!(
            !shown.contains("Leaked") && !shown.contains("credentials"),
            "{shown}"
        );
    }
    let _ = k.stop().await;
}

async fn timeline_of(path: &std::path::Path, number: i64) -> Vec<klaxon::store::timeline::Entry> {
    let store = Store::open(path.to_str().expect("utf-8"))
        .await
        .expect("store");
    let mut conn = store.conn().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Discord, GUILD);
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, number)
        .await
        .expect("q")
        .expect("incident");
    klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
}

#[tokio::test]
async fn add_to_timeline_captures_a_message_once_with_its_own_time_and_author() {
    let k = Running::start().await;
    let channel = k.declare("/inc declare sev2 Login failures").await;
    // Unprivileged: no message content intent unless reaction capture is configured.
    assert_eq!(k.fake.intents().map(|i| i & (1 << 15)), Some(0));
    let elsewhere = fake_discord::user_message(
        "660000000000000001",
        GENERAL,
        "100000000000000012",
        "unrelated",
        "2026-11-23T08:59:00.000000+00:00",
    );
    let r = k
        .fake
        .interact(fake_discord::add_to_timeline(
            &next_id(),
            ONCALL,
            GENERAL,
            &elsewhere,
        ))
        .await;
    assert!(ephemeral(&r).starts_with("⚠️"), "{r}");
    let message = fake_discord::user_message(
        "660000000000000002",
        &channel,
        "100000000000000012",
        "Saw 502s from the auth proxy at 08:57 **before** the deploy",
        "2026-11-23T08:57:30.000000+00:00",
    );
    for _ in 0..2 {
        let r = k
            .fake
            .interact(fake_discord::add_to_timeline(
                &next_id(),
                ONCALL,
                &channel,
                &message,
            ))
            .await;
        assert_eq!(ephemeral(&r), "📌 Added to INC-1's timeline.");
    }
    let path = k.store_path.clone();
    let _dir = k.stop().await;
    let captured: Vec<_> = timeline_of(&path, 1)
        .await
        .into_iter()
        .filter(|e| e.kind.word() == "captured")
        .collect();
    assert_eq!(captured.len(), 1, "the same message twice is one entry");
    assert_eq!(captured[0].at.to_rfc3339(), "2026-11-23T08:57:30+00:00");
    assert_eq!(captured[0].actor.id, "100000000000000012");
    assert!(captured[0].text.contains("502s from the auth proxy"));
}

#[tokio::test]
async fn a_pushpin_reaction_captures_and_follows_edits_and_removal() {
    let fake = FakeDiscord::start().await;
    let s = settings(&fake);
    let mut cfg = config();
    cfg.discord.capture_emoji = Some("📌".to_owned());
    let k = Running::start_full(fake, s, tempfile::tempdir().expect("tmp"), cfg).await;
    assert_eq!(
        k.fake.intents().map(|i| i & (1 << 15)),
        Some(1 << 15),
        "the message content intent is asked for"
    );
    let channel = k.declare("/inc declare sev2 Disk full on db-3").await;
    let id = "660000000000000003";
    k.fake.add_message(
        &channel,
        id,
        "100000000000000011",
        "db-3 at 100% since 08:40",
        "2026-11-23T08:41:00.000000+00:00",
    );
    k.fake.dispatch(
        "MESSAGE_REACTION_ADD",
        fake_discord::reaction(ONCALL, &channel, id, "📌"),
    );
    // Another emoji does nothing.
    k.fake.dispatch(
        "MESSAGE_REACTION_ADD",
        fake_discord::reaction(ONCALL, &channel, id, "👀"),
    );
    let path = k.store_path.clone();
    let captured = |entries: Vec<klaxon::store::timeline::Entry>| -> Vec<String> {
        entries
            .into_iter()
            .filter(|e| e.kind.word() == "captured")
            .map(|e| e.text)
            .collect()
    };
    let mut ok = false;
    for _ in 0..100 {
        if captured(timeline_of(&path, 1).await).len() == 1 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the reaction captured the message");
    k.fake.dispatch(
        "MESSAGE_UPDATE",
        json!({ "id": id, "channel_id": channel, "guild_id": GUILD, "content": "db-3 at 100% since 08:38",
                "edited_timestamp": "2026-11-23T09:05:00.000000+00:00" }),
    );
    let mut edited = false;
    for _ in 0..100 {
        if captured(timeline_of(&path, 1).await)
            .iter()
            .any(|t| t.contains("08:38"))
        {
            edited = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(edited, "the edit is followed");
    k.fake.dispatch(
        "MESSAGE_REACTION_REMOVE",
        fake_discord::reaction(ONCALL, &channel, id, "📌"),
    );
    let mut removed = false;
    for _ in 0..100 {
        if captured(timeline_of(&path, 1).await).is_empty() {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(removed, "removing the reaction removes the entry");
    let _ = k.stop().await;
}

#[tokio::test]
async fn the_postmortem_draft_is_shared_as_a_markdown_attachment() {
    let k = Running::start().await;
    let channel = k.declare("/inc declare sev2 Cache stampede").await;
    for line in ["/inc resolve TTL jitter added", "/inc postmortem"] {
        let text = ephemeral(&k.say(ONCALL, &channel, line).await);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
    }
    let uploaded = k
        .fake
        .until(|f| {
            f.calls_to("POST", &format!("/channels/{channel}/messages"))
                .iter()
                .any(|m| m["files"].as_array().is_some_and(|f| !f.is_empty()))
        })
        .await;
    assert!(uploaded, "{:#?}", k.fake.calls());
    let message = k
        .fake
        .calls_to("POST", &format!("/channels/{channel}/messages"))
        .into_iter()
        .find(|m| m["files"].as_array().is_some_and(|f| !f.is_empty()))
        .expect("upload");
    let file = &message["files"][0];
    assert!(
        file["filename"].as_str().unwrap_or("").ends_with(".md"),
        "{file}"
    );
    // Discord matches a file to its metadata by `files[n]` and `attachments[].id` (Reference >
    // Uploading Files).
    assert_eq!(file["field"], json!("files[0]"), "{message}");
    assert_eq!(message["attachments"][0]["id"], json!(0), "{message}");
    assert_eq!(
        message["attachments"][0]["filename"], file["filename"],
        "{message}"
    );
    assert!(
        file["content"]
            .as_str()
            .unwrap_or("")
            .contains("Cache stampede")
    );
    assert_eq!(message["allowed_mentions"]["parse"], json!([]));
    let _ = k.stop().await;
}

#[tokio::test]
async fn an_alert_is_announced_on_discord_and_its_button_declares_once() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    s.alerts_token = Some("alert-token".to_owned().into());
    let mut cfg = Config::parse(&format!(
        "checklist = []\n[discord]\npaging_channel = \"{PAGING}\"\n\
         [[alerts.routes]]\nname = \"all\"\n\
         targets = [{{ platform = \"discord\", workspace = \"{GUILD}\", channel = \"{PAGING}\" }}]\n"
    ))
    .expect("config");
    cfg.discord.announcement_debounce_ms = 0;
    let k = Running::start_full(fake, s, tempfile::tempdir().expect("tmp"), cfg).await;
    let alert = json!({
        "title": "@everyone HighErrorRate", "severity": "sev2", "summary": "5xx above 5%",
        "source": "prometheus", "fingerprint": "fp-1", "labels": { "team": "payments" }
    });
    let r = reqwest::Client::new()
        .post(format!("{}/alerts/webhook", k.url))
        .bearer_auth("alert-token")
        .json(&alert)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/channels/{PAGING}/messages"))
                .is_empty())
            .await
    );
    let post = &k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"))[0];
    assert!(!post.to_string().contains("@everyone"), "{post}");
    assert_eq!(post["allowed_mentions"]["parse"], json!([]));
    let custom_id = post["components"][0]["components"][0]["custom_id"]
        .as_str()
        .expect("a Declare incident button")
        .to_owned();
    assert!(custom_id.starts_with("klaxon:declare"), "{custom_id}");
    let mut click_id = custom_id.clone();
    if custom_id.contains('?') {
        let ask = k
            .fake
            .interact(fake_discord::click(
                &next_id(),
                ONCALL,
                PAGING,
                &custom_id,
                "650000000000000009",
            ))
            .await;
        click_id = ask["data"]["components"][0]["components"][0]["custom_id"]
            .as_str()
            .expect("the confirming button")
            .to_owned();
    }
    for _ in 0..2 {
        let r = k
            .fake
            .interact(fake_discord::click(
                &next_id(),
                ONCALL,
                PAGING,
                &click_id,
                "650000000000000009",
            ))
            .await;
        assert_eq!(r["type"], 4, "{r}");
    }
    assert!(
        k.fake
            .until(|f| !f.calls_to("PUT", "/channels/*/pins/*").is_empty())
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .len(),
        1,
        "two clicks declare once"
    );
    let _ = k.stop().await;
}
