//! Hardening drills: absurd platform waits, a reminder that cannot fire, private incidents in
//! shared channels, retention, forged timestamps and the alert endpoints under abuse.

mod input;

use std::time::Duration;

use chrono::Utc;
use klaxon::config::Config;
use klaxon::store;
use klaxon_commands::{PlatformKind, Tenant};
use klaxon_tests::fake_slack::FakeSlack;
use klaxon_tests::spawn::{Bot, Options, SlackHttp, spawn};
use klaxon_tests::wait::{LIMIT, eventually};
use klaxon_tests::{Call, TestBot, fake_slack};

/// A signed slash command to a served Klaxon, by alice in #general.
async fn slash(k: &Bot<FakeSlack>, text: &str, trigger: &str) -> u16 {
    fake_slack::slash(
        &k.url,
        &[
            ("team_id", "T0TEAM"),
            ("channel_id", "C0GENERAL"),
            ("channel_name", "general"),
            ("user_id", "U0ALICE"),
            ("user_name", "alice"),
            ("command", "/inc"),
            ("text", text),
            ("trigger_id", trigger),
        ],
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn an_absurd_retry_after_is_capped_and_the_dispatcher_keeps_posting() {
    let k = spawn(SlackHttp, Options::default().manual_clock()).await;
    // 10¹⁴ seconds: more than chrono can add to a date. Aimed at the channel's creation: a
    // 429 pauses its whole bucket, so one for the announcement would rightly hold the next
    // incident's announcement too (which call reaches Slack first is a race).
    k.fake
        .force_on("conversations.create", [(429, Some(100_000_000_000_000))]);
    assert_eq!(
        slash(&k, "declare sev2 First outage", "trig-ra-1").await,
        200
    );
    let store = k.store().await;
    let postponed = eventually(LIMIT, async || {
        let mut conn = store.read().await.expect("conn");
        store::outbox::pending(&mut conn, &[PlatformKind::Slack], 100)
            .await
            .expect("pending")
            .iter()
            .any(|c| c.attempts == 1)
    })
    .await;
    assert!(postponed, "the rate-limited call is recorded");
    let mut conn = store.read().await.expect("conn");
    let waiting = store::outbox::pending(&mut conn, &[PlatformKind::Slack], 100)
        .await
        .expect("pending");
    drop(conn);
    let call = waiting.iter().find(|c| c.attempts == 1).expect("the call");
    let at = call.not_before.expect("postponed");
    let cap = chrono::Duration::from_std(klaxon::outbox::MAX_RETRY_AFTER).expect("15 minutes");
    assert!(at <= Utc::now() + cap, "{at} is within the cap");
    assert!(
        at >= Utc::now() + cap - chrono::Duration::minutes(1),
        "{at}"
    );
    // The dispatcher lives on: the next incident is announced and pinned.
    assert_eq!(
        slash(&k, "declare sev2 Second outage", "trig-ra-2").await,
        200
    );
    assert!(
        k.fake
            .until(|calls| calls.iter().any(|c| c.method == "chat.postMessage"
                && c.body["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("Second outage"))))
            .await,
        "{:?}",
        k.fake.calls()
    );
    let health = reqwest::get(format!("{}/healthz", k.url))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    k.stop().await;
}

#[tokio::test]
async fn a_slack_503_with_retry_after_waits_that_long_and_other_incidents_go_on() {
    let k = spawn(SlackHttp, Options::default().manual_clock()).await;
    let before = std::time::Instant::now();
    // The first incident's channel creation meets an outage that says "3 seconds".
    k.fake.force_on("conversations.create", [(503, Some(3))]);
    assert_eq!(
        slash(&k, "declare sev2 First outage", "trig-503-1").await,
        200
    );
    let store = k.store().await;
    let postponed = eventually(LIMIT, async || {
        let mut conn = store.read().await.expect("conn");
        store::outbox::pending(&mut conn, &[PlatformKind::Slack], 100)
            .await
            .expect("pending")
            .iter()
            .any(|c| c.attempts == 1)
    })
    .await;
    assert!(postponed, "the refused call is recorded");
    let mut conn = store.read().await.expect("conn");
    let waiting = store::outbox::pending(&mut conn, &[PlatformKind::Slack], 100)
        .await
        .expect("pending");
    drop(conn);
    let call = waiting.iter().find(|c| c.attempts == 1).expect("the call");
    assert!(
        matches!(call.op, klaxon::store::outbox::Op::CreateChannel { .. }),
        "{:?}",
        call.op
    );
    // Slack's wait, not the 1 s backoff.
    let wait = call.not_before.expect("postponed") - Utc::now();
    assert!(
        wait > chrono::Duration::milliseconds(1500) && wait <= chrono::Duration::seconds(3),
        "{wait}"
    );
    // Another incident is not held back by the waiting one.
    assert_eq!(
        slash(&k, "declare sev2 Second outage", "trig-503-2").await,
        200
    );
    let created = |calls: &[klaxon_tests::fake_slack::ApiCall], what: &str| {
        calls
            .iter()
            .filter(|c| {
                c.method == "conversations.create"
                    && c.body["name"].as_str().is_some_and(|n| n.contains(what))
            })
            .map(|c| c.at)
            .collect::<Vec<_>>()
    };
    assert!(
        k.fake
            .until(|calls| !created(calls, "first").is_empty())
            .await,
        "{:?}",
        k.fake.calls()
    );
    let calls = k.fake.calls();
    let (first, second) = (created(&calls, "first"), created(&calls, "second"));
    assert_eq!(first.len(), 1, "made once after the wait: {calls:?}");
    assert_eq!(second.len(), 1, "{calls:?}");
    assert!(
        first[0] >= before + Duration::from_secs(3),
        "the wait was honoured"
    );
    assert!(second[0] < first[0], "the second incident went first");
    k.stop().await;
}

/// A new Slack channel's topic and invitations are their own calls after the creation: when
/// they fail, the channel stays (no twin) and each is queued and made again.
#[tokio::test]
async fn a_new_slack_channels_topic_and_invitation_that_fail_are_made_again() {
    let k = spawn(SlackHttp, Options::default()).await;
    k.fake.force_on("conversations.setTopic", [(503, None)]);
    k.fake.force_on("conversations.invite", [(503, None)]);
    assert_eq!(
        slash(&k, "declare sev2 Topic outage", "trig-setup").await,
        200
    );
    let set_up = |calls: &[klaxon_tests::fake_slack::ApiCall]| {
        let done = |method: &str| calls.iter().filter(|c| c.method == method).count();
        // A refused call is not recorded: these are the calls made again.
        done("conversations.setTopic") == 1 && done("conversations.invite") == 1
    };
    assert!(k.fake.until(set_up).await, "{:?}", k.fake.calls());
    let calls = k.fake.calls();
    let created: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "conversations.create")
        .collect();
    assert_eq!(created.len(), 1, "one channel, no twin: {calls:?}");
    let name = created[0].body["name"].as_str().expect("name");
    let settled = eventually(LIMIT, async || {
        k.fake
            .channel_named(name)
            .is_some_and(|c| !c.topic.is_empty() && c.members.contains("U0ALICE"))
    })
    .await;
    assert!(settled, "{:?}", k.fake.channel_named(name));
    k.stop().await;
}

#[tokio::test]
async fn a_failing_reminder_backs_off_and_others_still_fire() {
    let bot = TestBot::with_config(Config::parse("checklist = []").expect("config")).await;
    bot.ok("alice", "general", "/inc declare sev1 First").await;
    bot.ok("alice", "general", "/inc declare sev1 Second").await;
    bot.settle().await;
    let (first, second) = (bot.channel_of(1).await, bot.channel_of(2).await);
    bot.ok("alice", &first, "/inc ack").await;
    bot.ok("alice", &second, "/inc ack").await;
    // Both are due at 09:15, the first one first. Its firing fails inside its transaction
    // (the database refuses its timeline entry) until the trigger is dropped.
    let first_id = {
        let mut conn = bot.store().read().await.expect("conn");
        store::incidents::by_number(&mut conn, &bot.tenant, 1)
            .await
            .expect("q")
            .expect("incident")
            .id
    };
    let mut conn = bot.store().begin().await.expect("begin");
    let refuse: &[String] = &if klaxon_tests::database::on_postgres() {
        vec![
            format!(
                "CREATE FUNCTION refuse_first() RETURNS trigger AS $$ BEGIN \
                 IF NEW.incident_id = {first_id} AND NEW.kind = 'reminder' THEN \
                 RAISE EXCEPTION 'disk says no'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            ),
            "CREATE TRIGGER refuse_first BEFORE INSERT ON timeline \
             FOR EACH ROW EXECUTE FUNCTION refuse_first()"
                .to_owned(),
        ]
    } else {
        vec![format!(
            "CREATE TRIGGER refuse_first BEFORE INSERT ON timeline \
             WHEN NEW.incident_id = {first_id} AND NEW.kind = 'reminder' \
             BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )]
    };
    for sql in refuse {
        sqlx::query(sql).execute(&mut *conn).await.expect("trigger");
    }
    conn.commit().await.expect("commit");
    let reminders = |ch: &str| {
        bot.api
            .posts_in(ch)
            .into_iter()
            .filter(|p| p.starts_with("⏰"))
            .count()
    };
    let fired = bot.advance("15m").await;
    assert!(
        fired.iter().any(|f| f.incident_id != first_id && f.posted),
        "{fired:?}"
    );
    assert_eq!(reminders(&second), 1, "the other reminder fired on time");
    assert_eq!(reminders(&first), 0);
    // Ten minutes later it has been tried again with backoff (1 s, 2 s, 4 s … five minutes),
    // not in a tight loop, and the other incident's cadence went on.
    bot.advance("10m").await;
    let failures = {
        let mut conn = bot.store().read().await.expect("conn");
        let r = store::reminders::get(&mut conn, first_id, store::reminders::Kind::StatusUpdate, 0)
            .await
            .expect("q")
            .expect("reminder");
        store::reminders::failures(&mut conn, r.id)
            .await
            .expect("failures")
    };
    assert!(
        (5..=15).contains(&failures),
        "{failures} tries in ten minutes"
    );
    assert_eq!(reminders(&first), 0);
    let metrics = klaxon::metrics::render(bot.store()).await.expect("metrics");
    assert!(
        metrics.contains("klaxon_reminder_failures_total{kind=\"status_update\"}"),
        "{metrics}"
    );
    // Once it can fire, it fires exactly once, then keeps its cadence.
    let mut conn = bot.store().begin().await.expect("begin");
    sqlx::query(if klaxon_tests::database::on_postgres() {
        "DROP TRIGGER refuse_first ON timeline"
    } else {
        "DROP TRIGGER refuse_first"
    })
    .execute(&mut *conn)
    .await
    .expect("drop");
    conn.commit().await.expect("commit");
    bot.advance("5m").await;
    assert_eq!(reminders(&first), 1);
    bot.advance("5m").await;
    assert_eq!(reminders(&first), 1, "once, not once per failed try");
    bot.advance("15m").await;
    assert_eq!(
        reminders(&first),
        2,
        "the cadence resumes from when it fired"
    );
}

/// Everything posted or edited outside the incidents' own channels, with channel ids and
/// names included (`Debug`), in lower case.
fn shown_outside(bot: &TestBot, incident_channels: &[&str]) -> Vec<String> {
    bot.api
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Post {
                channel, message, ..
            }
            | Call::Edit {
                channel, message, ..
            } if !incident_channels.contains(&channel.as_str()) => {
                Some(format!("{message:?}").to_lowercase())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_private_sev1_page_names_no_channel() {
    let config = Config::parse(
        "checklist = []\n[discord]\npaging_channel = \"900\"\nsev1_mention = \"<@&42>\"\n[discord.escalation]\ndefault = [\"<@&7>\"]\n",
    )
    .expect("config");
    let bot = TestBot::on_platform(config, Tenant::new(PlatformKind::Discord, "G1")).await;
    bot.ok(
        "alice",
        "general",
        "/inc declare --private sev1 Payroll export leaks salaries",
    )
    .await;
    bot.settle().await;
    let channel = bot.channel_of(1).await;
    let pages: Vec<String> = bot
        .api
        .posts_in("900")
        .into_iter()
        .filter(|p| p.starts_with("🔴"))
        .collect();
    assert_eq!(
        pages,
        ["🔴 INC-1 is SEV1: <@&42> — it is private: ask @alice for access."]
    );
    // A private SEV2 raised to SEV1 pages the same way; then the acknowledgement timeout and a
    // manual escalation page, and the incident is resolved and reopened. Nothing posted or
    // edited in a shared channel names its title or its channel.
    bot.ok(
        "bob",
        "general",
        "/inc declare --private sev2 Salaries visible to contractors",
    )
    .await;
    bot.settle().await;
    let second = bot.channel_of(2).await;
    bot.ok("bob", &second, "/inc sev 1").await;
    bot.advance("6m").await;
    bot.ok("alice", &channel, "/inc escalate").await;
    bot.ok("alice", &channel, "/inc lead <@300>").await;
    bot.ok("alice", &channel, "/inc resolve Rotated the export key")
        .await;
    bot.ok("alice", &channel, "/inc reopen").await;
    bot.advance("20m").await;
    let outside = shown_outside(&bot, &[&channel, &second]);
    assert!(outside.len() >= 6, "{outside:#?}");
    for shown in &outside {
        for secret in [
            "payroll",
            "salaries",
            "leaks",
            "contractors",
            &channel,
            &second,
        ] {
            assert!(!shown.contains(secret), "{secret:?} in {shown}");
        }
    }
    let raised: Vec<String> = bot
        .api
        .posts_in("900")
        .into_iter()
        .filter(|p| p.starts_with("🔴 INC-2"))
        .collect();
    assert_eq!(
        raised,
        ["🔴 INC-2 is SEV1: <@&42> — it is private: ask @bob for access."]
    );
}

#[tokio::test]
async fn finished_calls_and_old_deliveries_are_pruned_and_the_timeline_is_kept() {
    let bot = TestBot::with_config(
        Config::parse("checklist = []\n[retention]\noutbox_days = 30\ndeliveries_days = 2\n")
            .expect("config"),
    )
    .await;
    let tenant = bot.tenant.clone();
    let r = bot
        .invoke(
            &tenant,
            "alice",
            "general",
            "/inc declare sev3 Old news",
            Some("d-1"),
        )
        .await;
    assert_eq!(r.kind, klaxon_commands::ReplyKind::Ok);
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.invoke(&tenant, "alice", &ch, "/inc resolve Fixed", Some("d-2"))
        .await;
    bot.invoke(&tenant, "alice", &ch, "/inc postmortem done", Some("d-3"))
        .await;
    bot.settle().await;
    let count = async |sql: &str| -> i64 {
        let mut conn = bot.store().read().await.expect("conn");
        sqlx::query_scalar(sql)
            .fetch_one(&mut *conn)
            .await
            .expect("count")
    };
    // Everything so far happened at the start time, 09:00.
    const OLD_CALLS: &str =
        "SELECT COUNT(*) FROM outbox WHERE created_at <= '2026-11-23T09:00:00.000Z'";
    const DELIVERIES: &str = "SELECT COUNT(*) FROM deliveries";
    const TIMELINE: &str = "SELECT COUNT(*) FROM timeline WHERE at <= '2026-11-23T09:00:00.000Z'";
    let (outbox, timeline) = (count(OLD_CALLS).await, count(TIMELINE).await);
    assert!(outbox >= 4, "{outbox}");
    assert_eq!(
        count("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").await,
        0
    );
    assert_eq!(count(DELIVERIES).await, 3);
    bot.advance("1d").await;
    assert_eq!(count(DELIVERIES).await, 3, "kept for two days");
    bot.advance("1d1h").await;
    assert_eq!(count(DELIVERIES).await, 0, "gone after two days");
    assert_eq!(count(OLD_CALLS).await, outbox, "calls are kept for 30 days");
    bot.advance("28d").await;
    assert_eq!(
        count(OLD_CALLS).await,
        0,
        "finished calls are gone after 30 days"
    );
    assert_eq!(count(TIMELINE).await, timeline, "the timeline is kept");
    assert_eq!(count("SELECT COUNT(*) FROM incidents").await, 1);
    // A delivery id seen again after retention is a new command, answered normally.
    let again = bot
        .invoke(&tenant, "alice", &ch, "/inc summary", Some("d-2"))
        .await;
    assert_eq!(again.kind, klaxon_commands::ReplyKind::Ok);
}
