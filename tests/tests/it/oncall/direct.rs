//! Shift handoffs by direct message on the manual clock, through the real adapters against the
//! strict fakes: on Slack (`conversations.open`, then a post in the IM) and Discord (Create DM,
//! then a message in it), the reminder before a shift to its person, and at the handoff the
//! incoming and the outgoing person each their own part, beside the channel post; each once. A
//! DM the platform refuses fails as other posts do, a rate-limited one is retried, neither
//! holds back the channel's posts, and one whose answer was lost is found in the DM's history.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon::app::App;
use klaxon::clock::ManualClock;
use klaxon::config::Config;
use klaxon::store::Store;
use klaxon_commands::{
    ChannelRef, ChatApi, Input, Invocation, PlatformKind, ReplyKind, Tenant, UserRef,
};
use klaxon_tests::fake_discord::{self, CATEGORY, FakeDiscord, GUILD, PAGING};
use klaxon_tests::fake_slack::{BOT_TOKEN, FakeSlack, GENERAL, TEAM};
use klaxon_tests::wait::{LIMIT, eventually};

const HOUR: Duration = Duration::from_secs(3600);

/// A daily rotation of two people handing off at 10:00 UTC: at the clock's start (Monday
/// 2026-11-23 09:00 UTC) the first holds it, and the second takes over in an hour.
fn rota(first: &str, second: &str) -> String {
    format!(
        "[[layers]]\nname = \"primary\"\nparticipants = [{first:?}, {second:?}]\n\
         rotation = \"daily\"\nstart = \"2026-11-22\"\nhandoff = \"10:00\"\n"
    )
}

/// Klaxon's engine, scheduler and outbox on a fresh database and the manual clock, with the
/// rota in `team.toml`, handoffs posted in `channel` and sent by DM on `tenant`.
struct Bot {
    app: App,
    clock: ManualClock,
    tenant: Tenant,
    _dir: tempfile::TempDir,
}

impl Bot {
    async fn start(api: Arc<dyn ChatApi>, tenant: Tenant, rota: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("team.toml"), rota).expect("write");
        let platform = tenant.platform.as_str();
        let workspace = &tenant.workspace;
        let channel = match tenant.platform {
            PlatformKind::Discord => PAGING,
            _ => "C0ONCALL",
        };
        let config = Config::parse(&format!(
            "checklist = []\n{extra}\n[oncall]\ndir = {:?}\n[oncall.handoffs]\n\
             targets = [{{ platform = \"{platform}\", workspace = \"{workspace}\", channel = \"{channel}\" }}]\n\
             direct = [{{ platform = \"{platform}\", workspace = \"{workspace}\" }}]\n",
            dir.path().to_str().expect("utf-8")
        ))
        .expect("config");
        let db = klaxon_tests::database::at(dir.path(), "k.db").await;
        let store = Store::open(&db).await.expect("store");
        let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
        apis.insert(tenant.platform, api);
        let clock = ManualClock::new(klaxon_tests::start_time());
        let app = App::new(store, config, Arc::new(clock.clone()), apis).expect("app");
        Self {
            app,
            clock,
            tenant,
            _dir: dir,
        }
    }

    async fn slack(fake: &FakeSlack, rota: &str) -> Self {
        fake.add_channel("C0ONCALL", "oncall", false, true);
        let api = klaxon_slack::SlackApi::new(BOT_TOKEN, Some(&fake.api_url));
        Self::start(
            Arc::new(api),
            Tenant::new(PlatformKind::Slack, TEAM),
            rota,
            "",
        )
        .await
    }

    async fn discord(fake: &FakeDiscord, rota: &str) -> Self {
        let http = klaxon_discord::api::http(
            fake_discord::TOKEN,
            &klaxon_discord::RestSettings {
                api_url: Some(fake.api_url.clone()),
                application_id: Some(fake_discord::APPLICATION_ID.parse().expect("id")),
            },
        );
        let extra = format!("[discord]\npaging_channel = \"{PAGING}\"\ncategory = \"{CATEGORY}\"");
        let config = Config::parse(&format!("checklist = []\n{extra}")).expect("config");
        let api = klaxon_discord::DiscordApi::new(
            Arc::new(http),
            klaxon::app::discord_channel_settings(&config),
        );
        Self::start(
            Arc::new(api),
            Tenant::new(PlatformKind::Discord, GUILD),
            rota,
            &extra,
        )
        .await
    }

    /// `text` typed by `user` in `channel`, answered without a refusal; its calls made.
    async fn say(&self, user: &str, channel: &str, text: &str) {
        let reply = self
            .app
            .engine
            .handle(Invocation {
                tenant: self.tenant.clone(),
                channel: ChannelRef::new(channel, channel),
                user: UserRef::id(user),
                input: Input::Text(text.to_owned()),
                incident: None,
                delivery_id: None,
            })
            .await;
        assert_eq!(reply.kind, ReplyKind::Ok, "{text}: {}", reply.to_plain());
        self.app.settle().await.expect("settle");
    }

    async fn advance(&self, by: Duration) {
        self.app.advance(&self.clock, by).await.expect("advance");
    }

    /// Drains the outbox until `check` holds: a postponed call is made when its wait is over.
    async fn drain_until(&self, mut check: impl FnMut() -> bool) -> bool {
        eventually(LIMIT, async || {
            self.app.dispatcher.drain().await.expect("drain");
            check()
        })
        .await
    }

    async fn pending(&self) -> i64 {
        let mut conn = self.app.store.read().await.expect("conn");
        klaxon::store::outbox::pending_count(&mut conn)
            .await
            .expect("count")
    }
}

/// The texts of Klaxon's posts in a fake Slack channel, oldest first.
fn slack_posts(fake: &FakeSlack, channel: &str) -> Vec<String> {
    fake.channel(channel)
        .expect("channel")
        .posts
        .values()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

const REMINDER: &str =
    "you are on call for team/primary from 2026-11-23 10:00 UTC until 2026-11-24 10:00 UTC.";
const HANDOFF: &str = "🔁 Handoff of team/primary at 2026-11-23 10:00 UTC: ";

#[tokio::test]
async fn slack_people_get_their_reminder_and_their_part_of_the_handoff_by_dm_once() {
    let fake = FakeSlack::start().await;
    let k = Bot::slack(&fake, &rota("U0ALICE", "U0BOB")).await;
    // U0ALICE, on call now, declares an incident: it is listed in her part of the handoff.
    k.say("U0ALICE", GENERAL, "declare sev2 Checkout slow")
        .await;

    // 09:00 UTC, an hour before U0BOB's shift: his reminder, by DM and in the channel.
    let bob = fake.direct_messages("U0BOB");
    assert_eq!(bob.len(), 1, "{bob:?}");
    assert_eq!(bob[0], format!("⏰ <@U0BOB>: {REMINDER}"));
    assert!(fake.direct_messages("U0ALICE").is_empty());
    let opened = fake.calls_to("conversations.open");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["users"], serde_json::json!(["U0BOB"]));
    assert!(
        slack_posts(&fake, "C0ONCALL")
            .iter()
            .any(|p| p.ends_with(REMINDER)),
        "{:?}",
        slack_posts(&fake, "C0ONCALL")
    );

    // The first DM of the handoff is rate limited: it is retried, and made once.
    fake.refuse_next("conversations.open", 1);
    k.advance(HOUR).await;
    assert!(
        k.drain_until(|| fake.direct_messages("U0ALICE").len() == 1
            && fake.direct_messages("U0BOB").len() == 2)
            .await,
        "{:?} {:?}",
        fake.direct_messages("U0ALICE"),
        fake.direct_messages("U0BOB")
    );
    assert_eq!(fake.rate_limited("conversations.open"), 1);
    // Each gets the headline, pinging only them, and the incidents they are in.
    let alice = fake.direct_messages("U0ALICE").remove(0);
    assert!(
        alice.starts_with(&format!(
            "{HANDOFF}@bob is on call until 2026-11-24 10:00 UTC, taking over from <@U0ALICE>.\n"
        )),
        "{alice}"
    );
    assert!(
        alice.contains("@alice (outgoing): 1 open incident:"),
        "{alice}"
    );
    assert!(alice.contains("INC-1 · SEV2"), "{alice}");
    assert!(!alice.contains("incoming"), "{alice}");
    let bob = fake.direct_messages("U0BOB").remove(1);
    assert!(
        bob.starts_with(&format!(
            "{HANDOFF}<@U0BOB> is on call until 2026-11-24 10:00 UTC, taking over from @alice.\n"
        )),
        "{bob}"
    );
    assert!(bob.contains("@bob (incoming): no open incidents."), "{bob}");
    assert!(!bob.contains("outgoing"), "{bob}");
    // The channel has the whole handoff, both people pinged.
    let channel = slack_posts(&fake, "C0ONCALL");
    assert!(
        channel.iter().any(|p| p.starts_with(&format!(
            "{HANDOFF}<@U0BOB> is on call until 2026-11-24 10:00 UTC, taking over from <@U0ALICE>."
        ))),
        "{channel:?}"
    );

    // Nothing more until the next shift's reminder; nothing twice. The reminder may wait on
    // her DM's bucket: a 429 a moment ago (in real time, whatever the manual clock says)
    // paces it for a second or two, so it is waited for, not expected at once.
    k.advance(23 * HOUR).await;
    assert!(
        k.drain_until(|| fake.direct_messages("U0ALICE").len() >= 2)
            .await,
        "the next reminder: {:?}",
        fake.direct_messages("U0ALICE")
    );
    assert_eq!(
        fake.direct_messages("U0ALICE").len(),
        2,
        "the next reminder, once"
    );
    assert_eq!(fake.direct_messages("U0BOB").len(), 2);
    assert_eq!(k.pending().await, 0);
}

#[tokio::test]
async fn a_dm_slack_refuses_fails_alone_and_the_channel_still_gets_the_handoff() {
    let fake = FakeSlack::start().await;
    // U0ZED is no user of the workspace: `conversations.open` answers `user_not_found`.
    let k = Bot::slack(&fake, &rota("U0CAROL", "U0ZED")).await;
    k.advance(HOUR).await;
    assert_eq!(k.pending().await, 0, "failed for good, not retried forever");
    assert!(fake.direct_messages("U0ZED").is_empty());
    let carol = fake.direct_messages("U0CAROL");
    assert_eq!(carol.len(), 1, "{carol:?}");
    assert!(carol[0].starts_with(HANDOFF), "{carol:?}");
    let refused: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "conversations.open" && c.body["users"][0] == "U0ZED")
        .map(|c| c.error)
        .collect();
    assert_eq!(
        refused,
        [
            Some("user_not_found".to_owned()),
            Some("user_not_found".to_owned())
        ],
        "the reminder's DM and the handoff's, each tried once"
    );
    let channel = slack_posts(&fake, "C0ONCALL");
    assert_eq!(
        channel.len(),
        2,
        "the reminder and the handoff: {channel:?}"
    );
    assert!(channel[0].ends_with(REMINDER), "{channel:?}");
    assert!(channel[1].starts_with(HANDOFF), "{channel:?}");
}

const ALICE: &str = "100000000000000011";
const BOB: &str = "100000000000000012";

#[tokio::test]
async fn discord_people_get_their_reminder_and_handoff_by_dm_and_a_refusal_fails_alone() {
    let fake = FakeDiscord::start().await;
    // BOB takes no DMs from the bot: Discord answers 50007 to the message.
    fake.close_dms(BOB);
    let k = Bot::discord(&fake, &rota(ALICE, BOB)).await;
    k.advance(Duration::ZERO).await;
    let opened = fake.calls_to("POST", "/users/@me/channels");
    assert_eq!(opened.len(), 1, "the reminder's DM was opened: {opened:?}");
    assert_eq!(opened[0]["recipient_id"], BOB);
    assert!(fake.direct_messages(BOB).is_empty());

    k.advance(HOUR).await;
    assert_eq!(k.pending().await, 0, "BOB's DMs failed for good");
    let alice = fake.direct_messages(ALICE);
    assert_eq!(alice.len(), 1, "{alice:?}");
    assert!(
        alice[0].starts_with(&format!(
            "{HANDOFF}<@{BOB}> is on call until 2026-11-24 10:00 UTC, taking over from <@{ALICE}>."
        )),
        "{alice:?}"
    );
    assert!(
        alice[0].contains("(outgoing): no open incidents."),
        "{alice:?}"
    );
    // Only the recipient may be notified by their DM.
    let sent = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path.starts_with("/channels/"))
        .filter(|c| {
            c.body["content"]
                .as_str()
                .is_some_and(|t| t.starts_with("🔁"))
        })
        .filter(|c| c.body["allowed_mentions"]["users"] == serde_json::json!([ALICE]))
        .count();
    assert_eq!(sent, 1, "{:?}", fake.calls());
    // The paging channel has the reminder and the handoff.
    let channel: Vec<String> = fake
        .messages_in(PAGING)
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(channel.len(), 2, "{channel:?}");
    assert!(channel[0].ends_with(REMINDER), "{channel:?}");
    assert!(channel[1].starts_with(HANDOFF), "{channel:?}");

    // A day later, ALICE's next shift: her reminder, once.
    k.advance(23 * HOUR).await;
    assert_eq!(
        fake.direct_messages(ALICE).len(),
        2,
        "ALICE's next reminder"
    );
    assert_eq!(
        fake.direct_messages(ALICE)[1],
        format!(
            "⏰ <@{ALICE}>: you are on call for team/primary from 2026-11-24 10:00 UTC until 2026-11-25 10:00 UTC."
        )
    );
}

#[tokio::test]
async fn a_slack_dm_whose_answer_was_lost_is_found_in_the_dms_history_not_sent_twice() {
    let fake = FakeSlack::start().await;
    let k = Bot::slack(&fake, &rota("U0ALICE", "U0BOB")).await;
    // Slack posts U0BOB's reminder (and the channel's) but its answer never comes.
    fake.stall("chat.postMessage");
    k.app.scheduler.fire_due().await.expect("fire");
    let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    apis.insert(
        PlatformKind::Slack,
        Arc::new(klaxon_slack::SlackApi::new(BOT_TOKEN, Some(&fake.api_url))),
    );
    let dispatcher = klaxon::outbox::Dispatcher::new(
        k.app.store.clone(),
        apis,
        Arc::new(tokio::sync::Notify::new()),
    )
    .with_call_timeout(Duration::from_secs(1));
    dispatcher.drain().await.expect("drain");
    assert_eq!(fake.direct_messages("U0BOB").len(), 1, "made, unheard");
    assert!(k.pending().await > 0, "to be retried");

    // The retry looks in the DM's history (im:history), finds its key and posts nothing new.
    fake.unstall();
    assert!(
        eventually(LIMIT, async || {
            dispatcher.drain().await.expect("drain");
            k.pending().await == 0
        })
        .await
    );
    assert_eq!(
        fake.direct_messages("U0BOB"),
        [format!("⏰ <@U0BOB>: {REMINDER}")]
    );
    let dm = fake.calls_to("conversations.open").len();
    assert_eq!(dm, 2, "opened again for the retry, the same IM");
    assert!(
        fake.calls_to("conversations.history")
            .iter()
            .any(|c| c["channel"] == "D0U0BOB"),
        "{:?}",
        fake.calls_to("conversations.history")
    );
    assert_eq!(slack_posts(&fake, "C0ONCALL").len(), 1);
}
