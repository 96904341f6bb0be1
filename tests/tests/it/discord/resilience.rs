//! Discord when things are slow or break: deferred responses, a slow Discord, the token kept
//! out of logs, gateway reconnects, rate limits and outages, and a restart with calls pending.

use std::time::Duration;

use klaxon::store::Store;
use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD, PAGING};
use klaxon_tests::spawn::discord::{ONCALL, ephemeral, next_id, settings};
use klaxon_tests::spawn::{Discord, Options, spawn};
use serde_json::json;

#[tokio::test]
async fn a_slow_engine_defers_then_edits_the_response() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    // Always defer: the result then comes as an edit of the original response.
    s.discord_defer_after = Duration::ZERO;
    let k = spawn(Discord, Options::default().fake(fake).settings(s)).await;
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
    let k = spawn(Discord, Options::default()).await;
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
    let k = spawn(Discord, Options::default()).await;
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
    let k = spawn(Discord, Options::default()).await;
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
    let k = spawn(Discord, Options::default()).await;
    let store = Store::open(&k.db).await.expect("store");
    let before = std::time::Instant::now();
    // The first incident's first call (its channel) meets an outage that says "3 seconds".
    k.fake.force_retry_after(503, 3);
    ephemeral(
        &k.say(ONCALL, GENERAL, "/inc declare sev2 First outage")
            .await,
    );
    let pending = async || {
        let mut conn = store.read().await.expect("conn");
        klaxon::store::outbox::pending(&mut conn, &[PlatformKind::Discord], 100)
            .await
            .expect("pending")
    };
    let mut postponed = None;
    klaxon_tests::wait::eventually(klaxon_tests::wait::LIMIT, async || {
        postponed = pending().await.into_iter().find(|c| c.attempts == 1);
        postponed.is_some()
    })
    .await;
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
    let k = spawn(Discord, Options::default().fake(fake).settings(s)).await;
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
    let k = spawn(
        Discord,
        Options::default().fake(healthy).settings(s).dir(dir),
    )
    .await;
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
