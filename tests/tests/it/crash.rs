//! Crashes at the worst moments, against the real `klaxon` binary killed with SIGKILL: after
//! the platform made a channel or a post but before Klaxon heard so. After a restart the
//! channel is adopted (no `-2` twin) and no post is made twice, on Slack and on Discord. And a
//! SIGTERM against a slow platform: the process ends within its grace period, leaves the rest
//! queued, and the next start makes it, nothing twice.

use std::path::Path;

use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD, PAGING};
use klaxon_tests::fake_slack::{self, FakeSlack};
use klaxon_tests::process::{Process, discord_env, slack_env};
use klaxon_tests::spawn::discord::{ONCALL, ephemeral, next_id};
use klaxon_tests::spawn::settled;
use serde_json::Value;

/// The Slack paging channel; Klaxon is in it, so a repeated post can read its history.
const SLACK_PAGING: &str = "C0PAGING";

async fn binary() -> std::path::PathBuf {
    tokio::task::spawn_blocking(klaxon_tests::binary::klaxon)
        .await
        .expect("build")
}

fn slack_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("klaxon.toml"),
        format!(
            "checklist = []\n[incidents]\npaging_channel = \"{SLACK_PAGING}\"\n[slack]\nannouncement_debounce_ms = 0\n"
        ),
    )
    .expect("config");
    dir
}

fn discord_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("klaxon.toml"),
        format!(
            "checklist = []\n[discord]\npaging_channel = \"{PAGING}\"\ncategory = \"{}\"\n",
            fake_discord::CATEGORY
        ),
    )
    .expect("config");
    dir
}

async fn started(bin: &Path, dir: &Path, env: &[(&str, String)]) -> Process {
    let mut p = Process::start(bin, dir, env);
    assert!(p.ready(&reqwest::Client::new()).await, "klaxon never ready");
    p
}

/// `/inc declare sev2 <title>` over signed HTTP, answered.
async fn slack_declare(url: &str, title: &str) {
    slack_declare_as(url, title, "crash-declare-1").await;
}

/// The same, with its own trigger id (a delivery id: each declare needs one).
async fn slack_declare_as(url: &str, title: &str, trigger: &str) {
    let resp = fake_slack::slash(
        url,
        &[
            ("team_id", "T0TEAM"),
            ("channel_id", fake_slack::GENERAL),
            ("channel_name", "general"),
            ("user_id", "U0ALICE"),
            ("user_name", "alice"),
            ("command", "/inc"),
            ("text", &format!("declare sev2 {title}")),
            ("trigger_id", trigger),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert!(
        body["text"].as_str().unwrap_or("").contains("declared"),
        "{body}"
    );
}

/// `/inc declare sev2 <title>` over the gateway, answered.
async fn discord_declare(fake: &FakeDiscord, title: &str) {
    let (group, sub, options) = klaxon_tests::scenario::discord_options(
        &format!("declare sev2 {title}"),
        &klaxon_tests::spawn::discord::user_id,
    );
    assert!(group.is_none());
    let interaction = fake_discord::slash(&next_id(), ONCALL, GENERAL, &sub, options);
    let text = ephemeral(&fake.interact(interaction).await);
    assert!(text.contains("declared"), "{text}");
}

/// The incident's channel as Klaxon stored it.
async fn stored_channel(dir: &Path) -> Option<String> {
    let store = klaxon::store::Store::open(&klaxon_tests::database::at(dir, "k.db").await)
        .await
        .expect("store");
    let mut conn = store.read().await.expect("conn");
    let incident = klaxon::store::incidents::get(&mut conn, 1)
        .await
        .expect("read")
        .expect("incident 1");
    drop(conn);
    store.close().await;
    incident.channel_id
}

/// The messages Klaxon posted (`chat.postMessage` calls Slack carried out) per channel, with
/// the call key each carried in its metadata.
fn slack_posts(fake: &FakeSlack) -> Vec<(String, String)> {
    fake.calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.error.is_none())
        .map(|c| {
            let key = c.body["metadata"]["event_payload"]["call"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            (c.body["channel"].as_str().unwrap_or("").to_owned(), key)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_a_channel_made_just_before_a_crash_is_adopted_not_twinned() {
    let bin = binary().await;
    let fake = FakeSlack::start().await;
    let dir = slack_folder();
    // Slack makes the channel, and Klaxon dies before it hears the answer.
    fake.stall("conversations.create");
    let mut first = started(&bin, dir.path(), &slack_env(&fake)).await;
    slack_declare(&first.url, "Checkout down").await;
    assert!(
        fake.until(|calls| calls.iter().any(|c| c.method == "conversations.create"))
            .await
    );
    first.kill_9();
    fake.unstall();
    let name = fake.calls_to("conversations.create")[0]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let made = fake.channel_named(&name).expect("Slack made it");
    assert_eq!(stored_channel(dir.path()).await, None, "Klaxon never heard");

    let second = started(&bin, dir.path(), &slack_env(&fake)).await;
    settled(&klaxon_tests::database::at(dir.path(), "k.db").await).await;
    assert_eq!(
        fake.calls_to("conversations.create").len(),
        1,
        "adopted, not made again"
    );
    assert!(
        fake.channel_named(&format!("{name}-2")).is_none(),
        "no twin"
    );
    assert_eq!(stored_channel(dir.path()).await, Some(made.id.clone()));
    // Adopting finishes what the creation would have done, and the incident carries on there.
    let channel = fake.channel(&made.id).expect("channel");
    assert!(channel.topic.contains("SEV2"), "{}", channel.topic);
    assert!(
        slack_posts(&fake).iter().any(|(c, _)| *c == made.id),
        "the summary is posted in the adopted channel"
    );
    assert!(second.terminate().await.is_some_and(|s| s.success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_a_channel_made_just_before_a_crash_is_adopted_not_twinned() {
    let bin = binary().await;
    let fake = FakeDiscord::start().await;
    let dir = discord_folder();
    let create = format!("/guilds/{GUILD}/channels");
    fake.stall("POST", &create);
    let mut first = started(&bin, dir.path(), &discord_env(&fake)).await;
    assert!(fake.until(FakeDiscord::connected).await, "gateway");
    discord_declare(&fake, "Checkout down").await;
    assert!(
        fake.until(|f| !f.calls_to("POST", &create).is_empty())
            .await
    );
    first.kill_9();
    fake.unstall();
    let body = fake.calls_to("POST", &create)[0].clone();
    let name = body["name"].as_str().expect("name").to_owned();
    let made = fake.channel_named(&name).expect("Discord made it");
    let topic = made.topic.clone().unwrap_or_default();
    assert!(topic.contains(" · klaxon-"), "the marker: {topic}");
    assert!(topic.chars().count() <= 1024);
    assert_eq!(stored_channel(dir.path()).await, None, "Klaxon never heard");

    let second = started(&bin, dir.path(), &discord_env(&fake)).await;
    settled(&klaxon_tests::database::at(dir.path(), "k.db").await).await;
    assert_eq!(
        fake.calls_to("POST", &create).len(),
        1,
        "adopted, not made again"
    );
    let named: Vec<String> = fake
        .channels()
        .into_iter()
        .filter(|c| c.name.starts_with(&name))
        .map(|c| c.name)
        .collect();
    assert_eq!(named, std::slice::from_ref(&name), "no twin");
    assert_eq!(stored_channel(dir.path()).await, Some(made.id.clone()));
    assert!(
        !fake.messages_in(&made.id).is_empty(),
        "the summary is posted in the adopted channel"
    );
    assert!(second.terminate().await.is_some_and(|s| s.success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_posts_in_flight_at_a_crash_are_not_posted_again() {
    slack_posts_in_flight_at_a_crash(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_paging_channel_klaxon_is_not_in_is_joined_to_check_a_retried_post() {
    // Klaxon posts there with `chat:write.public`, but may not read the history of a channel
    // it is not in: the retry joins it first, then finds the announcement that went out.
    slack_posts_in_flight_at_a_crash(false).await;
}

/// Posts in flight when Klaxon is killed, made again after the restart: each is made once.
/// `member`: Klaxon is in the (public) paging channel.
async fn slack_posts_in_flight_at_a_crash(member: bool) {
    let bin = binary().await;
    let fake = FakeSlack::start().await;
    fake.add_channel(SLACK_PAGING, "paging", false, member);
    let dir = slack_folder();
    // Slack posts the announcement and the summary; Klaxon dies before it hears either answer.
    fake.stall("chat.postMessage");
    let mut first = started(&bin, dir.path(), &slack_env(&fake)).await;
    slack_declare(&first.url, "Payments slow").await;
    assert!(
        fake.until(|calls| calls
            .iter()
            .filter(|c| c.method == "chat.postMessage")
            .count()
            >= 2)
            .await
    );
    first.kill_9();
    fake.unstall();
    let in_flight = slack_posts(&fake);
    assert!(
        in_flight.iter().all(|(_, key)| key.starts_with("klaxon-")),
        "every post carries its call's key: {in_flight:?}"
    );

    let second = started(&bin, dir.path(), &slack_env(&fake)).await;
    settled(&klaxon_tests::database::at(dir.path(), "k.db").await).await;
    let posts = slack_posts(&fake);
    let mut keys: Vec<&str> = posts.iter().map(|(_, k)| k.as_str()).collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "a post was made twice: {posts:?}");
    for (channel, key) in &in_flight {
        assert_eq!(
            posts
                .iter()
                .filter(|(c, k)| c == channel && k == key)
                .count(),
            1,
            "{channel} {key}"
        );
    }
    assert_eq!(
        posts.iter().filter(|(c, _)| c == SLACK_PAGING).count(),
        1,
        "one announcement: {posts:?}"
    );
    assert!(
        !fake.calls_to("conversations.history").is_empty(),
        "the retry looked before posting"
    );
    let joins = fake.calls_to("conversations.join").len();
    assert_eq!(
        joins,
        usize::from(!member),
        "joined only a channel it was not in"
    );
    let paging = fake.channel(SLACK_PAGING).expect("paging");
    assert!(paging.members.contains(klaxon_tests::fake_slack::BOT_USER));
    // The adopted announcement is the one Klaxon edits and pins.
    let store = klaxon::store::Store::open(&klaxon_tests::database::at(dir.path(), "k.db").await)
        .await
        .expect("store");
    let mut conn = store.read().await.expect("conn");
    let (channel, ts) =
        klaxon::store::posts::get(&mut conn, 1, klaxon::store::posts::PostKind::Announcement)
            .await
            .expect("read")
            .expect("the announcement is known");
    drop(conn);
    store.close().await;
    assert_eq!(channel, SLACK_PAGING);
    assert!(
        fake.channel(SLACK_PAGING)
            .expect("paging")
            .posts
            .contains_key(&ts.0),
        "{ts:?}"
    );
    assert!(second.terminate().await.is_some_and(|s| s.success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_posts_in_flight_at_a_crash_are_not_posted_again() {
    let bin = binary().await;
    let fake = FakeDiscord::start().await;
    let dir = discord_folder();
    fake.stall("POST", "/channels/*/messages");
    let mut first = started(&bin, dir.path(), &discord_env(&fake)).await;
    assert!(fake.until(FakeDiscord::connected).await, "gateway");
    discord_declare(&fake, "Payments slow").await;
    let posted = |f: &FakeDiscord| {
        f.calls()
            .iter()
            .filter(|c| c.method == "POST" && c.path.ends_with("/messages"))
            .count()
    };
    assert!(fake.until(|f| posted(f) >= 2).await);
    first.kill_9();
    fake.unstall();
    let nonces: Vec<String> = fake
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/messages"))
        .map(|c| {
            assert_eq!(c.body["enforce_nonce"], true, "{}", c.body);
            c.body["nonce"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert!(
        nonces
            .iter()
            .all(|n| n.starts_with("klaxon-") && n.len() <= 25),
        "{nonces:?}"
    );

    let second = started(&bin, dir.path(), &discord_env(&fake)).await;
    settled(&klaxon_tests::database::at(dir.path(), "k.db").await).await;
    let channel = stored_channel(dir.path()).await.expect("channel");
    let announcements = fake.messages_in(PAGING);
    assert_eq!(
        announcements.len(),
        1,
        "one announcement: {announcements:#?}"
    );
    let mut nonces: Vec<String> = fake
        .messages_in(&channel)
        .iter()
        .chain(&announcements)
        .map(|m| m["nonce"].as_str().unwrap_or("").to_owned())
        .collect();
    let before = nonces.len();
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(before, nonces.len(), "a post was made twice");
    assert!(second.terminate().await.is_some_and(|s| s.success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_slow_platform_ends_within_the_grace_and_the_next_start_makes_the_rest() {
    let bin = binary().await;
    let fake = FakeSlack::start().await;
    fake.add_channel(SLACK_PAGING, "paging", false, true);
    let dir = slack_folder();
    let grace = std::time::Duration::from_secs(2);
    let mut env = slack_env(&fake);
    env.push(("KLAXON_SHUTDOWN_GRACE", "2".to_owned()));
    let first = started(&bin, dir.path(), &env).await;
    // Every Slack call takes 700 ms: four incidents' setup takes longer than the grace.
    fake.set_latency(std::time::Duration::from_millis(700));
    let titles: Vec<String> = (1..=4).map(|n| format!("Slow platform {n}")).collect();
    for (n, title) in titles.iter().enumerate() {
        slack_declare_as(&first.url, title, &format!("grace-{n}")).await;
    }
    let asked = std::time::Instant::now();
    let status = first
        .terminate_within(grace + std::time::Duration::from_secs(8))
        .await;
    let took = asked.elapsed();
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(
        took < grace + std::time::Duration::from_secs(3),
        "SIGTERM to exit took {took:?} with a {grace:?} grace"
    );
    let left = {
        let store =
            klaxon::store::Store::open(&klaxon_tests::database::at(dir.path(), "k.db").await)
                .await
                .expect("store");
        let mut conn = store.read().await.expect("conn");
        let n = klaxon::store::outbox::pending_count(&mut conn)
            .await
            .expect("count");
        drop(conn);
        store.close().await;
        n
    };
    assert!(left > 0, "the grace ran out with calls still queued");

    fake.set_latency(std::time::Duration::ZERO);
    let second = started(&bin, dir.path(), &slack_env(&fake)).await;
    settled(&klaxon_tests::database::at(dir.path(), "k.db").await).await;
    let created: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "conversations.create" && c.error.is_none())
        .filter_map(|c| c.body["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(created.len(), titles.len(), "one channel each: {created:?}");
    let posts = slack_posts(&fake);
    let mut keys: Vec<&str> = posts.iter().map(|(_, k)| k.as_str()).collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    assert_eq!(before, keys.len(), "a post was made twice: {posts:?}");
    let paging = fake.channel(SLACK_PAGING).expect("paging");
    for title in &titles {
        let announced = paging
            .posts
            .values()
            .filter(|m| m["text"].as_str().unwrap_or("").contains(title.as_str()))
            .count();
        assert_eq!(announced, 1, "{title}");
    }
    assert!(second.terminate().await.is_some_and(|s| s.success()));
}
