//! The outbox under Slack's rate limits: rate-limit buckets are shared, so a burst of declares
//! gets its announcements and its channels in declaration order with a handful of 429s, and a
//! bucket paused by a 429 holds neither another bucket's calls nor an in-flight slot.
//!
//! The engine runs on a manual clock; the dispatcher and the fake's limits on real time (every
//! platform wait is real time). To keep the run short the fake's limits and Klaxon's pace are
//! both scaled down [`SPEED`] times (`FakeSlack::enforce_tiers`, `SlackApi::with_pace_speed`):
//! Tier 2 stays 20 calls with a burst of 20, but refilled one every 300 ms instead of 3 s, and
//! a channel takes a post every 100 ms after a burst of 3. `Retry-After` stays whole seconds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon::app::App;
use klaxon::clock::ManualClock;
use klaxon::config::Config;
use klaxon::outbox::Dispatcher;
use klaxon::store::Store;
use klaxon_commands::{
    ChannelRef, ChatApi, Input, Invocation, PlatformKind, ReplyKind, Tenant, UserRef,
};
use klaxon_tests::fake_slack::{ApiCall, BOT_TOKEN, FakeSlack, GENERAL, INCIDENTS};
use klaxon_tests::wait::{eventually, until};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How many times faster than Slack's own the fake's limits and Klaxon's pace run.
const SPEED: u32 = 10;

/// Klaxon's engine on a manual clock and its own dispatcher over the real Slack adapter,
/// pointed at `fake`.
struct Bot {
    app: App,
    store: Store,
    dispatcher: Arc<Dispatcher>,
    dir: tempfile::TempDir,
}

impl Bot {
    async fn start(fake: &FakeSlack) -> Self {
        Self::with_call_timeout(fake, klaxon::outbox::CALL_TIMEOUT).await
    }

    /// A bot whose dispatcher gives up on a request after `timeout`.
    async fn with_call_timeout(fake: &FakeSlack, timeout: Duration) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join(DB_FILE);
        let store = Store::open(db.to_str().expect("utf-8"))
            .await
            .expect("store");
        let api =
            klaxon_slack::SlackApi::new(BOT_TOKEN, Some(&fake.api_url)).with_pace_speed(SPEED);
        let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
        apis.insert(PlatformKind::Slack, Arc::new(api));
        let config = Config::parse("checklist = []").expect("config");
        let clock = ManualClock::new(klaxon_tests::start_time());
        let dispatcher = Arc::new(
            Dispatcher::new(store.clone(), apis.clone(), Arc::new(Notify::new()))
                .with_call_timeout(timeout),
        );
        let app = App::new(store.clone(), config, Arc::new(clock), apis).expect("app");
        Self {
            app,
            store,
            dispatcher,
            dir,
        }
    }

    /// Declares an incident; its calls are queued, not made.
    async fn declare(&self, title: &str) {
        let reply = self
            .app
            .engine
            .handle(Invocation {
                tenant: Tenant::new(PlatformKind::Slack, "T0TEAM"),
                channel: ChannelRef::new(GENERAL, "general"),
                user: UserRef::named("U0ALICE", "alice"),
                input: Input::Text(format!("declare sev2 {title}")),
                incident: None,
                delivery_id: None,
            })
            .await;
        assert_eq!(reply.kind, ReplyKind::Ok, "{}", reply.to_plain());
    }

    /// `/inc <text>` in incident `incident`'s channel.
    async fn say_in(&self, incident: i64, text: &str) {
        let channel = {
            let mut conn = self.store.read().await.expect("conn");
            klaxon::store::incidents::get(&mut conn, incident)
                .await
                .expect("read")
                .and_then(|i| i.channel_id)
                .expect("the incident's channel")
        };
        let reply = self
            .app
            .engine
            .handle(Invocation {
                tenant: Tenant::new(PlatformKind::Slack, "T0TEAM"),
                channel: ChannelRef::new(channel.clone(), channel),
                user: UserRef::named("U0ALICE", "alice"),
                input: Input::Text(text.to_owned()),
                incident: None,
                delivery_id: None,
            })
            .await;
        assert_eq!(reply.kind, ReplyKind::Ok, "{}", reply.to_plain());
    }

    /// Runs the dispatcher in the background until it is stopped.
    fn run(&self) -> Running {
        let token = CancellationToken::new();
        let task = tokio::spawn(
            Arc::clone(&self.dispatcher).run(token.clone(), Duration::from_millis(100)),
        );
        Running { token, task }
    }

    /// How many calls are pending, and how many failed for good.
    async fn outbox(&self) -> (i64, i64) {
        let mut conn = self.store.read().await.expect("conn");
        let pending = klaxon::store::outbox::pending_count(&mut conn)
            .await
            .expect("pending");
        let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state = 'failed'")
            .fetch_one(&mut *conn)
            .await
            .expect("failed");
        (pending, failed)
    }
}

/// A dispatcher running in the background.
struct Running {
    token: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Asks it to stop; it ends within its grace period.
    fn cancel(&self) {
        self.token.cancel();
    }

    /// Stops it and waits until it has ended: a pass still draining after the stop would
    /// make the calls queued next, racing the next run over them.
    async fn stopped(self) {
        self.token.cancel();
        self.task.await.expect("the dispatcher ended");
    }
}

/// The database file's name in the bot's folder.
const DB_FILE: &str = "klaxon.db";

/// The database file of `bot`'s store.
fn db_file(bot: &Bot) -> std::path::PathBuf {
    bot.dir.path().join(DB_FILE)
}

/// How long a test waits for the outbox: the scaled-down limits take a few seconds.
const LIMIT: Duration = Duration::from_secs(30);

fn to_paging(c: &ApiCall) -> bool {
    c.method == "chat.postMessage"
        && matches!(
            c.body["channel"].as_str(),
            Some("incidents" | "#incidents" | INCIDENTS)
        )
}

/// The declare number in a channel name (`…-outage-07`) or a text (`Outage 07`).
fn number(text: &str) -> Option<usize> {
    let at = text.to_lowercase().find("outage")? + "outage".len();
    text.get(at..)?
        .trim_start_matches([' ', '-'])
        .get(..2)?
        .parse()
        .ok()
}

/// Accepted calls matching `which`, with their declare numbers (from `field`).
fn accepted(calls: &[ApiCall], which: impl Fn(&ApiCall) -> bool, field: &str) -> Vec<usize> {
    calls
        .iter()
        .filter(|c| c.error.is_none() && which(c))
        .filter_map(|c| c.body[field].as_str().and_then(number))
        .collect()
}

#[tokio::test]
async fn a_burst_of_declares_gets_announcements_and_channels_in_order_with_few_429s() {
    const N: usize = 30;
    let fake = FakeSlack::start().await;
    fake.enforce_tiers(SPEED);
    let bot = Bot::start(&fake).await;
    for n in 0..N {
        bot.declare(&format!("Outage {n:02}")).await;
    }
    let stop = bot.run();
    assert!(
        eventually(LIMIT, async || bot.outbox().await.0 == 0).await,
        "calls still pending: {:?}",
        bot.outbox().await
    );
    stop.cancel();
    let calls = fake.calls();
    let in_order: Vec<usize> = (0..N).collect();
    let created = accepted(&calls, |c| c.method == "conversations.create", "name");
    assert_eq!(created, in_order, "every channel, in declaration order");
    let announced = accepted(&calls, to_paging, "text");
    assert_eq!(
        announced, in_order,
        "every announcement, in declaration order"
    );
    assert_eq!(bot.outbox().await.1, 0, "no call failed");
    // Past Tier 2's burst of 20 (and the paging channel's 3) the rest waited on their bucket
    // after one 429, never one per waiting incident. How many calls fit in the bursts depends
    // on how fast this machine makes them, so the limits are met at least once in all.
    let creates = fake.rate_limited("conversations.create");
    let posts = fake.rate_limited("chat.postMessage");
    assert!(creates <= 3, "conversations.create 429s: {creates}");
    assert!(posts <= 3, "chat.postMessage 429s: {posts}");
    eprintln!("429s: conversations.create {creates}, chat.postMessage {posts}");
    assert!(creates + posts >= 1, "the burst met a limit");
    // An announcement posted before its channel existed named it without a link, and was
    // edited to link it once it existed.
    let late = fake
        .calls()
        .into_iter()
        .filter(|c| to_paging(c) && c.error.is_none())
        .filter(|c| !c.body["text"].as_str().unwrap_or("").contains("<#"))
        .count();
    let edits_linking = calls
        .iter()
        .filter(|c| c.method == "chat.update" && c.error.is_none())
        .filter(|c| c.body["text"].as_str().is_some_and(|t| t.contains("<#C")))
        .count();
    assert!(
        edits_linking >= late,
        "{late} announcements went out before their channel, {edits_linking} edits linked it"
    );
}

#[tokio::test]
async fn a_paused_bucket_holds_no_other_bucket_and_no_slot() {
    // More incidents than in-flight slots, all waiting on channel creation.
    const N: usize = 12;
    let fake = FakeSlack::start().await;
    fake.refuse_next("conversations.create", 30);
    let bot = Bot::start(&fake).await;
    for n in 0..N {
        bot.declare(&format!("Outage {n:02}")).await;
    }
    let stop = bot.run();
    assert!(
        until(LIMIT, || accepted(&fake.calls(), to_paging, "text").len()
            == N)
        .await,
        "{:#?}",
        fake.calls()
    );
    stop.cancel();
    let calls = fake.calls();
    assert_eq!(
        accepted(&calls, to_paging, "text"),
        (0..N).collect::<Vec<_>>(),
        "every announcement went out at once, in order"
    );
    // One create was refused for 30 s; the other eleven waited on their bucket instead of
    // being refused in turn.
    let creates: Vec<&ApiCall> = calls
        .iter()
        .filter(|c| c.method == "conversations.create")
        .collect();
    assert_eq!(creates.len(), 1, "{creates:#?}");
    assert_eq!(fake.rate_limited("conversations.create"), 1);
    // Before its channel exists the announcement names it, without a link (Slack mrkdwn
    // `#name`, not `<#C…>`).
    for c in calls.iter().filter(|c| to_paging(c)) {
        let text = c.body["text"].as_str().unwrap_or("");
        assert!(text.contains("#inc-") && !text.contains("<#"), "{text}");
    }
}

/// A call leaves its rate-limit bucket once the platform has answered it, not once its outcome
/// is committed: with the database's write lock held elsewhere (each edit's record waits for
/// it), the second and later `chat.update` calls of the workspace's bucket still reach Slack.
/// Each is still made once.
#[tokio::test]
async fn a_bucket_s_next_call_goes_once_the_platform_answered_not_once_recorded() {
    use sqlx::Connection as _;
    let fake = FakeSlack::start().await;
    let bot = Bot::start(&fake).await;
    bot.declare("Outage 01").await;
    bot.declare("Outage 02").await;
    let stop = bot.run();
    assert!(
        eventually(LIMIT, async || bot.outbox().await == (0, 0)).await,
        "the declares' calls are made"
    );
    stop.stopped().await;
    // Each severity change edits its announcement and its summary: four chat.update calls in
    // one bucket (chat.update, per workspace), in four lanes.
    bot.say_in(1, "sev 1").await;
    bot.say_in(2, "sev 1").await;
    let updates = |calls: &[ApiCall]| calls.iter().filter(|c| c.method == "chat.update").count();
    let before = updates(&fake.calls());
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(db_file(&bot));
    let mut holder = sqlx::SqliteConnection::connect_with(&options)
        .await
        .expect("a second connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("the write lock");
    let stop = bot.run();
    // The writer waits up to 10 s for the lock (its busy timeout); well before that, more
    // than one edit of the bucket has reached Slack.
    assert!(
        until(Duration::from_secs(5), || updates(&fake.calls())
            >= before + 2)
        .await,
        "a second chat.update went while the first's outcome waited for the write lock"
    );
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("release the lock");
    drop(holder);
    assert!(
        eventually(LIMIT, async || bot.outbox().await == (0, 0)).await,
        "every edit recorded"
    );
    stop.cancel();
    let calls = fake.calls();
    let edits: Vec<&ApiCall> = calls.iter().filter(|c| c.method == "chat.update").collect();
    assert_eq!(edits.len(), before + 4, "each edit made once: {edits:#?}");
}

/// A bucket's calls get ready while an older one is at the platform (a channel creation
/// claims its name in a committed write first), but only one reaches Slack at a time: with
/// the first `conversations.create` hung, the next creations have claimed their names and
/// wait at the bucket's gate. They give their turn back unsent when the wait runs out, and
/// every channel is made once: the hung one is adopted, the others created after it answered.
#[tokio::test]
async fn a_bucket_s_calls_get_ready_together_and_reach_the_platform_one_at_a_time() {
    let fake = FakeSlack::start().await;
    fake.stall("conversations.create");
    let bot = Bot::with_call_timeout(&fake, Duration::from_secs(2)).await;
    for n in 1..=3 {
        bot.declare(&format!("Outage {n:02}")).await;
    }
    let claimed = async || -> i64 {
        let mut conn = bot.store.read().await.expect("conn");
        sqlx::query_scalar("SELECT count(DISTINCT outbox_id) FROM channel_attempts")
            .fetch_one(&mut *conn)
            .await
            .expect("claims")
    };
    let stop = bot.run();
    assert!(
        eventually(LIMIT, async || claimed().await == 3).await,
        "the creations behind the hung one got ready"
    );
    assert_eq!(
        creations(&fake.calls()),
        1,
        "only the oldest creation reached Slack: {:#?}",
        fake.calls()
    );
    fake.unstall();
    assert!(
        eventually(LIMIT, async || bot.outbox().await == (0, 0)).await,
        "every call made: {:#?}",
        fake.calls()
    );
    stop.cancel();
    let calls = fake.calls();
    assert_eq!(creations(&calls), 3, "no creation repeated: {calls:#?}");
    for n in 1..=3 {
        let name = format!(
            "inc-{}-outage-{n:02}",
            klaxon_tests::start_time().format("%Y-%m-%d")
        );
        assert!(fake.channel_named(&name).is_some(), "{name}");
        assert!(
            fake.channel_named(&format!("{name}-2")).is_none(),
            "no twin of {name}"
        );
    }
    let mut conn = bot.store.read().await.expect("conn");
    let channels: Vec<Option<String>> =
        sqlx::query_scalar("SELECT channel_id FROM incidents ORDER BY id")
            .fetch_all(&mut *conn)
            .await
            .expect("incidents");
    assert!(channels.iter().all(Option::is_some), "{channels:?}");
}

/// A bucket whose calls' order does not show sends several of them at once: `chat.update` is
/// one bucket per workspace, but edits of different incidents' messages may cross (each
/// incident's own edits keep their order in its lanes). With every `chat.update` hung, four
/// reach Slack together, not one. Channel creations and a channel's posts still go one at a
/// time (above).
#[tokio::test]
async fn a_bucket_whose_order_does_not_show_sends_several_calls_at_once() {
    let fake = FakeSlack::start().await;
    let bot = Bot::start(&fake).await;
    for n in 1..=4 {
        bot.declare(&format!("Outage {n:02}")).await;
    }
    let stop = bot.run();
    assert!(
        eventually(LIMIT, async || bot.outbox().await == (0, 0)).await,
        "the declares' calls are made"
    );
    stop.stopped().await;
    fake.stall("chat.update");
    for incident in 1..=4 {
        bot.say_in(incident, "sev 1").await;
    }
    let updates = |calls: &[ApiCall]| calls.iter().filter(|c| c.method == "chat.update").count();
    let before = updates(&fake.calls());
    let stop = bot.run();
    // The first hung edit would hold a bucket one call wide for the call timeout (30 s).
    assert!(
        until(Duration::from_secs(5), || updates(&fake.calls())
            >= before + 4)
        .await,
        "4 hung edits at Slack at once: {} reached it",
        updates(&fake.calls()) - before
    );
    stop.stopped().await;
}

/// On Slack a channel's topic and invitations are calls of their own after
/// `conversations.create`; only the creation takes the bucket's turn. With every
/// `conversations.setTopic` hung, the next incidents' channels are still created at once,
/// not each after the one before's topic has timed out (30 s).
#[tokio::test]
async fn a_new_channels_topic_does_not_hold_back_the_next_creation() {
    let fake = FakeSlack::start().await;
    let bot = Bot::start(&fake).await;
    fake.stall("conversations.setTopic");
    for n in 1..=3 {
        bot.declare(&format!("Outage {n:02}")).await;
    }
    let stop = bot.run();
    assert!(
        until(Duration::from_secs(5), || creations(&fake.calls()) == 3).await,
        "3 channels created while their topics hang: {} of 3 were",
        creations(&fake.calls())
    );
    stop.stopped().await;
}

/// How many `conversations.create` calls Slack carried out.
fn creations(calls: &[ApiCall]) -> usize {
    calls
        .iter()
        .filter(|c| c.method == "conversations.create")
        .count()
}
