//! Archiving resolved incidents' channels `archive_after` after resolve, on the manual clock,
//! through the real adapters: against the strict fake Slack (`conversations.archive` once,
//! across a restart; a reopen cancels it; the channel's reminders end with it) and the strict
//! fake Discord (a move to the archive category once, a new one when it is full, back on
//! reopen).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon::app::App;
use klaxon::clock::ManualClock;
use klaxon::config::Config;
use klaxon::store::Store;
use klaxon_commands::{
    ChannelRef, ChatApi, Input, Invocation, PlatformKind, Reply, ReplyKind, Tenant, UserRef,
};
use klaxon_tests::fake_discord::{self, CATEGORY, FakeDiscord, GUILD, PAGING};
use klaxon_tests::fake_slack::{BOT_TOKEN, FakeSlack, GENERAL};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Klaxon's engine, scheduler and outbox on a database file and a manual clock, making its
/// Slack calls through the real adapter to the fake Slack; started again on the same file to
/// stand for a restart.
pub(crate) struct SlackBot {
    pub(crate) app: App,
    store: Store,
    clock: ManualClock,
}

impl SlackBot {
    pub(crate) async fn start(
        fake: &FakeSlack,
        db: &std::path::Path,
        config: &str,
        clock: &ManualClock,
    ) -> Self {
        let store = Store::open(db.to_str().expect("utf-8"))
            .await
            .expect("store");
        let api = klaxon_slack::SlackApi::new(BOT_TOKEN, Some(&fake.api_url));
        let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
        apis.insert(PlatformKind::Slack, Arc::new(api));
        let config = Config::parse(&format!("checklist = []\n{config}")).expect("config");
        let app = App::new(store.clone(), config, Arc::new(clock.clone()), apis).expect("app");
        Self {
            app,
            store,
            clock: clock.clone(),
        }
    }

    pub(crate) async fn say(&self, channel: &str, text: &str) -> Reply {
        let reply = self
            .app
            .engine
            .handle(Invocation {
                tenant: Tenant::new(PlatformKind::Slack, "T0TEAM"),
                channel: ChannelRef::new(channel, channel),
                user: UserRef::named("U0ALICE", "alice"),
                input: Input::Text(text.to_owned()),
                incident: None,
                delivery_id: None,
            })
            .await;
        assert_eq!(reply.kind, ReplyKind::Ok, "{text}: {}", reply.to_plain());
        self.app.settle().await.expect("settle");
        reply
    }

    pub(crate) async fn advance(&self, by: Duration) {
        self.app.advance(&self.clock, by).await.expect("advance");
    }

    pub(crate) async fn stop(self) {
        self.store.close().await;
    }
}

/// Declares and resolves one incident; answers its channel's ID.
async fn resolved(k: &SlackBot, fake: &FakeSlack) -> String {
    k.say(GENERAL, "declare sev2 Queue backlog").await;
    let name = fake.calls_to("conversations.create")[0]["name"]
        .as_str()
        .map(str::to_owned)
        .expect("the channel's name");
    let id = fake.channel_named(&name).expect("the incident channel").id;
    k.say(&id, "resolve drained").await;
    id
}

fn archives(fake: &FakeSlack) -> Vec<serde_json::Value> {
    fake.calls()
        .into_iter()
        .filter(|c| c.method == "conversations.archive")
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn a_resolved_slack_channel_is_archived_once_after_archive_after_across_a_restart() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let clock = ManualClock::new(klaxon_tests::start_time());
    let config = "[slack]\narchive_after = \"7d\"";
    let k = SlackBot::start(&fake, &db, config, &clock).await;
    let id = resolved(&k, &fake).await;
    k.advance(6 * DAY).await;
    assert!(archives(&fake).is_empty(), "not before 7 days");
    k.stop().await;

    // Klaxon restarts; the archive is still due, and fires once, at its time.
    let k = SlackBot::start(&fake, &db, config, &clock).await;
    k.advance(DAY).await;
    let calls = archives(&fake);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["channel"], id.as_str(), "by ID");
    assert!(fake.channel(&id).expect("channel").archived);
    let last = fake
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.method == "chat.postMessage" && c.body["channel"] == id.as_str())
        .expect("a last post");
    let text = last.body["text"].as_str().unwrap_or("").to_owned();
    assert!(
        text.contains("Archiving this channel, 7d after INC-1 was resolved"),
        "{text}"
    );
    // The postmortem was not marked done: the last post says its reminders end here.
    assert!(text.contains("Still open: the postmortem"), "{text}");

    // Weeks later: no second archive, and nothing was sent to the archived channel.
    k.advance(30 * DAY).await;
    assert_eq!(archives(&fake).len(), 1);
    let refused: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.error.as_deref() == Some("is_archived"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    k.stop().await;
    let k = SlackBot::start(&fake, &db, config, &clock).await;
    k.advance(DAY).await;
    assert_eq!(archives(&fake).len(), 1, "and none after another restart");
    k.stop().await;
}

#[tokio::test]
async fn a_reopen_before_the_archive_cancels_it_and_archiving_is_off_by_default() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::new(klaxon_tests::start_time());
    let k = SlackBot::start(
        &fake,
        &dir.path().join("k.db"),
        "[slack]\narchive_after = \"2d\"",
        &clock,
    )
    .await;
    let id = resolved(&k, &fake).await;
    k.advance(DAY).await;
    k.say(&id, "reopen").await;
    k.advance(10 * DAY).await;
    assert!(archives(&fake).is_empty(), "reopened: never archived");
    // Resolved again: archived two days after this resolve.
    k.say(&id, "resolve for good").await;
    k.advance(DAY).await;
    assert!(archives(&fake).is_empty());
    k.advance(DAY).await;
    assert_eq!(archives(&fake).len(), 1);
    k.stop().await;

    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let k = SlackBot::start(&fake, &dir.path().join("k.db"), "", &clock).await;
    resolved(&k, &fake).await;
    k.advance(60 * DAY).await;
    assert!(archives(&fake).is_empty(), "off unless configured");
    k.stop().await;
}

/// Slack lets no bot unarchive, and an archived channel takes no commands: a person unarchives
/// it, `/inc reopen` there works, and the next resolve archives it again.
#[tokio::test]
async fn a_channel_a_person_unarchived_can_be_reopened_and_is_archived_again() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::new(klaxon_tests::start_time());
    let k = SlackBot::start(
        &fake,
        &dir.path().join("k.db"),
        "[slack]\narchive_after = \"1d\"",
        &clock,
    )
    .await;
    let id = resolved(&k, &fake).await;
    k.say(&id, "followup add Add a queue depth alert").await;
    k.advance(DAY).await;
    assert_eq!(archives(&fake).len(), 1);
    let last = fake
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.method == "chat.postMessage" && c.body["channel"] == id.as_str())
        .expect("a last post");
    let text = last.body["text"].as_str().unwrap_or("");
    assert!(
        text.contains("Still open: the postmortem; follow-ups 1"),
        "{text}"
    );
    fake.unarchive_as_person(&id);
    let reply = k.say(&id, "reopen").await;
    assert_eq!(reply.to_plain(), "✓ INC-1 reopened.");
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.method == "conversations.unarchive"),
        "Klaxon never calls what Slack refuses bot tokens"
    );
    k.say(&id, "resolve again").await;
    k.advance(DAY).await;
    let calls = archives(&fake);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(fake.channel(&id).expect("channel").archived);
    k.stop().await;
}

/// Klaxon's engine, scheduler and outbox making Discord calls through the real adapter to the
/// fake Discord, on a manual clock; started again on the same file to stand for a restart.
struct DiscordBot {
    app: App,
    store: Store,
    clock: ManualClock,
}

impl DiscordBot {
    async fn start(
        fake: &FakeDiscord,
        db: &std::path::Path,
        extra: &str,
        clock: &ManualClock,
    ) -> Self {
        let store = Store::open(db.to_str().expect("utf-8"))
            .await
            .expect("store");
        let config = Config::parse(&format!(
            "checklist = []\n[discord]\npaging_channel = \"{PAGING}\"\ncategory = \"{CATEGORY}\"\n{extra}"
        ))
        .expect("config");
        let http = klaxon_discord::api::http(
            fake_discord::TOKEN,
            &klaxon_discord::RestSettings {
                api_url: Some(fake.api_url.clone()),
                application_id: Some(fake_discord::APPLICATION_ID.parse().expect("id")),
            },
        );
        let api = klaxon_discord::DiscordApi::new(
            Arc::new(http),
            klaxon::app::discord_channel_settings(&config),
        );
        let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
        apis.insert(PlatformKind::Discord, Arc::new(api));
        let app = App::new(store.clone(), config, Arc::new(clock.clone()), apis).expect("app");
        Self {
            app,
            store,
            clock: clock.clone(),
        }
    }

    async fn say(&self, channel: &str, text: &str) -> Reply {
        let reply = self
            .app
            .engine
            .handle(Invocation {
                tenant: Tenant::new(PlatformKind::Discord, GUILD),
                channel: ChannelRef::new(channel, channel),
                user: UserRef::named(ONCALL, "oncall"),
                input: Input::Text(text.to_owned()),
                incident: None,
                delivery_id: None,
            })
            .await;
        assert_eq!(reply.kind, ReplyKind::Ok, "{text}: {}", reply.to_plain());
        self.app.settle().await.expect("settle");
        reply
    }

    async fn advance(&self, by: Duration) {
        self.app.advance(&self.clock, by).await.expect("advance");
    }

    async fn stop(self) {
        self.store.close().await;
    }
}

const ONCALL: &str = "100000000000000001";

/// Declares and resolves an incident titled `title`; answers its channel's id.
async fn resolved_on_discord(k: &DiscordBot, fake: &FakeDiscord, title: &str) -> String {
    k.say(fake_discord::GENERAL, &format!("declare sev2 {title}"))
        .await;
    let slug = title.to_lowercase().replace(' ', "-");
    let id = fake
        .channels()
        .into_iter()
        .find(|c| c.name.ends_with(&slug))
        .expect("the incident channel")
        .id;
    k.say(&id, "resolve drained").await;
    id
}

/// The name of the category the channel is in now.
fn category_of(fake: &FakeDiscord, channel: &str) -> Option<String> {
    let parent = fake.channel(channel)?.parent_id?;
    fake.channel(&parent).map(|c| c.name)
}

#[tokio::test]
async fn a_resolved_discord_channel_moves_to_the_archive_after_a_day_and_back_on_reopen() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let clock = ManualClock::new(klaxon_tests::start_time());
    let k = DiscordBot::start(&fake, &db, "", &clock).await;
    let id = resolved_on_discord(&k, &fake, "Queue backlog").await;
    assert_eq!(
        fake.channel(&id).and_then(|c| c.parent_id).as_deref(),
        Some(CATEGORY)
    );
    k.advance(Duration::from_secs(23 * 3600)).await;
    assert_eq!(
        fake.channel(&id).and_then(|c| c.parent_id).as_deref(),
        Some(CATEGORY),
        "not before a day"
    );
    k.stop().await;

    // After a restart the move is still due, and happens once, at its time, into a category
    // Klaxon makes.
    let k = DiscordBot::start(&fake, &db, "", &clock).await;
    k.advance(Duration::from_secs(3600)).await;
    assert_eq!(category_of(&fake, &id).as_deref(), Some("Incident archive"));
    let moves = |fake: &FakeDiscord| {
        fake.calls_to("PATCH", &format!("/channels/{id}"))
            .iter()
            .filter(|b| b.get("parent_id").is_some())
            .count()
    };
    assert_eq!(moves(&fake), 1);
    k.advance(10 * DAY).await;
    assert_eq!(moves(&fake), 1, "once");
    let posted = fake.calls_to("POST", &format!("/channels/{id}/messages"));
    assert!(
        posted.iter().any(|b| b
            .to_string()
            .contains("Archiving this channel, 1d after INC-1 was resolved")),
        "{posted:#?}"
    );

    // Reopened: back to the incidents category; resolved again, archived again a day later,
    // into the same archive category.
    let reply = k.say(&id, "reopen").await;
    assert!(
        reply.to_plain().contains("comes back from the archive"),
        "{}",
        reply.to_plain()
    );
    assert_eq!(
        fake.channel(&id).and_then(|c| c.parent_id).as_deref(),
        Some(CATEGORY)
    );
    k.say(&id, "resolve again").await;
    k.advance(DAY).await;
    assert_eq!(category_of(&fake, &id).as_deref(), Some("Incident archive"));
    let archives = fake
        .channels()
        .iter()
        .filter(|c| c.kind == 4 && c.name.starts_with("Incident archive"))
        .count();
    assert_eq!(archives, 1);
    k.stop().await;
}

#[tokio::test]
async fn a_full_archive_category_gets_another_and_a_guild_can_turn_archiving_off() {
    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::new(klaxon_tests::start_time());
    // The guild's own archive category, already holding Discord's 50 channels.
    let old = fake.add_channel("Old incidents", 4, None);
    for n in 0..50 {
        fake.add_channel(&format!("inc-old-{n}"), 0, Some(&old));
    }
    let extra = format!(
        "[discord.guilds.\"{GUILD}\"]\narchive_category = \"{old}\"\narchive_after = \"2h\""
    );
    let k = DiscordBot::start(&fake, &dir.path().join("k.db"), &extra, &clock).await;
    let id = resolved_on_discord(&k, &fake, "Queue backlog").await;
    k.advance(Duration::from_secs(2 * 3600)).await;
    assert_eq!(category_of(&fake, &id).as_deref(), Some("Old incidents 2"));
    k.stop().await;

    let fake = FakeDiscord::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let extra = format!("[discord.guilds.\"{GUILD}\"]\narchive_after = \"off\"");
    let k = DiscordBot::start(&fake, &dir.path().join("k.db"), &extra, &clock).await;
    let id = resolved_on_discord(&k, &fake, "Search is slow").await;
    k.advance(30 * DAY).await;
    assert_eq!(
        fake.channel(&id).and_then(|c| c.parent_id).as_deref(),
        Some(CATEGORY),
        "off for this guild"
    );
    k.stop().await;
}
