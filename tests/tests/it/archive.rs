//! Archiving resolved incidents' channels `archive_after` after resolve, on the manual clock:
//! Slack's real adapter against the strict fake Slack (`conversations.archive` once, across a
//! restart; a reopen cancels it; the channel's reminders end with it) and the engine's rules
//! on a recording platform.

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
use klaxon_tests::fake_slack::{BOT_TOKEN, FakeSlack, GENERAL};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// Klaxon's engine, scheduler and outbox on a database file and a manual clock, making its
/// Slack calls through the real adapter to the fake Slack; started again on the same file to
/// stand for a restart.
struct SlackBot {
    app: App,
    store: Store,
    clock: ManualClock,
}

impl SlackBot {
    async fn start(
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

    async fn say(&self, channel: &str, text: &str) -> Reply {
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

    async fn advance(&self, by: Duration) {
        self.app.advance(&self.clock, by).await.expect("advance");
    }

    async fn stop(self) {
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
