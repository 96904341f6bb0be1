//! Status-update reminders due together fire as one set: one transaction, the same posts,
//! timeline entries and next due times as one at a time, and a set that fails falls back to
//! firing each alone
//! (`hardening::a_failing_reminder_backs_off_and_others_still_fire`).

use std::time::Duration;

use klaxon::clock::Clock as _;
use klaxon::config::Config;
use klaxon::scheduler::Fired;
use klaxon::store::reminders::Kind;
use klaxon_tests::TestBot;

fn reminders_in(bot: &TestBot, channel: &str) -> Vec<String> {
    bot.api
        .posts_in(channel)
        .into_iter()
        .filter(|p| p.starts_with("⏰"))
        .collect()
}

fn status_updates(fired: &[Fired]) -> Vec<(i64, bool)> {
    fired
        .iter()
        .filter(|f| f.kind == Kind::StatusUpdate)
        .map(|f| (f.incident_id, f.posted))
        .collect()
}

#[tokio::test]
async fn status_reminders_due_together_fire_in_one_transaction_each_as_if_alone() {
    let bot = TestBot::with_config(Config::parse("checklist = []").expect("config")).await;
    let n = 30;
    for i in 0..n {
        bot.ok("alice", "general", &format!("/inc declare sev1 Burst {i}"))
            .await;
    }
    bot.settle().await;
    let mut channels = Vec::new();
    for i in 1..=n {
        let channel = bot.channel_of(i).await;
        bot.ok("alice", &channel, "/inc ack").await;
        channels.push(channel);
    }
    // INC-2 has its own IC; INC-3's reminders are off; INC-4 is resolved.
    bot.ok("alice", &channels[1], "/inc lead @bob").await;
    bot.ok("alice", &channels[2], "/inc remind off").await;
    bot.ok("alice", &channels[3], "/inc resolve Rolled back")
        .await;
    bot.settle().await;

    bot.clock.advance(Duration::from_secs(15 * 60));
    let before = bot.store().commits();
    let fired = bot.app.scheduler.fire_due().await.expect("fire");
    let commits = bot.store().commits() - before;
    bot.settle().await;
    let expected: Vec<(i64, bool)> = (1..=n)
        .filter(|i| ![3, 4].contains(i))
        .map(|i| (i, true))
        .collect();
    assert_eq!(status_updates(&fired), expected, "{fired:#?}");
    // One for the set, one for the look at the other kinds (nothing due).
    assert!(
        commits <= 2,
        "{} firings took {commits} COMMITs",
        fired.len()
    );
    for (i, channel) in (1..=n).zip(&channels) {
        let want = match i {
            2 => vec![
                "⏰ @bob: no status update yet, 15m after declare. SEV1 updates are due every 15m: /inc update <text>.".to_owned(),
            ],
            3 | 4 => vec![],
            _ => vec![
                "⏰ @alice: no status update yet, 15m after declare. SEV1 updates are due every 15m: /inc update <text>.".to_owned(),
            ],
        };
        assert_eq!(reminders_in(&bot, channel), want, "INC-{i}");
    }
    // Each firing is on its incident's timeline, and its post is linked to the entry.
    let mut conn = bot.store().read().await.expect("conn");
    for i in [1, 2, n] {
        let entries: Vec<_> = klaxon::store::timeline::all(&mut conn, i)
            .await
            .expect("timeline")
            .into_iter()
            .filter(|e| e.kind.word() == "reminder")
            .collect();
        assert_eq!(entries.len(), 1, "INC-{i}: {entries:?}");
        assert!(entries[0].message_ref.is_some(), "INC-{i}: {entries:?}");
    }
    drop(conn);
    // Each schedule moved on a full cadence: nothing before 15 minutes, then once each again.
    assert!(status_updates(&bot.advance("14m").await).is_empty());
    let again = bot.advance("1m").await;
    assert_eq!(status_updates(&again), expected);
    assert_eq!(reminders_in(&bot, &channels[0]).len(), 2);
    assert_eq!(reminders_in(&bot, &channels[2]).len(), 0);
}

/// The set's statements split long lists (SQLite binds each named parameter by walking the
/// statement's list of them): lists longer than one statement's share give the same answers.
#[tokio::test]
async fn lists_longer_than_one_statement_take_several_and_miss_nothing() {
    let bot = TestBot::with_config(Config::parse("checklist = []").expect("config")).await;
    for i in 0..3 {
        bot.ok("alice", "general", &format!("/inc declare sev1 Burst {i}"))
            .await;
    }
    bot.settle().await;
    bot.ok("alice", &bot.channel_of(3).await, "/inc lead @bob")
        .await;
    // 600 ids, the three real ones spread over the statements.
    let mut ids: Vec<i64> = (1000..1597).collect();
    ids.insert(0, 1);
    ids.insert(300, 2);
    ids.push(3);
    let mut tx = bot.store().begin().await.expect("begin");
    let mut found: Vec<i64> = klaxon::store::incidents::get_many(&mut tx, &ids)
        .await
        .expect("incidents")
        .into_iter()
        .map(|i| i.id)
        .collect();
    found.sort_unstable();
    assert_eq!(found, [1, 2, 3]);
    let ics = klaxon::store::incidents::ics(&mut tx, &ids)
        .await
        .expect("ics");
    assert_eq!(ics.len(), 1);
    assert_eq!(ics[&3].id, "bob");
    let later = bot.clock.now() + chrono::Duration::hours(1);
    let due = klaxon::store::reminders::due_set(&mut tx, Kind::StatusUpdate, later, 500)
        .await
        .expect("due");
    let reminders: Vec<i64> = due.iter().map(|r| r.id).collect();
    let claimed = klaxon::store::reminders::claim_set(&mut tx, due.clone())
        .await
        .expect("claim");
    assert_eq!(claimed, due);
    let mut all: Vec<i64> = (5000..5600).collect();
    all.insert(255, reminders[0]);
    all.extend(&reminders[1..]);
    klaxon::store::reminders::fired_set(&mut tx, &all, later, None)
        .await
        .expect("fired");
    let entries: Vec<(i64, String)> = (1..=3).map(|i| (i, format!("entry {i}"))).collect();
    let ids = klaxon::store::timeline::append_each(
        &mut tx,
        later,
        &klaxon_commands::UserRef::id("U1"),
        &klaxon::store::timeline::EntryKind::Reminder,
        &entries,
    )
    .await
    .expect("append");
    assert_eq!(ids.len(), 3);
    tx.commit().await.expect("commit");
    let mut tx = bot.store().begin().await.expect("begin");
    let left = klaxon::store::reminders::due_set(&mut tx, Kind::StatusUpdate, later, 500)
        .await
        .expect("due");
    assert!(left.is_empty(), "every id was reached: {left:?}");
    drop(tx);
    let mut conn = bot.store().read().await.expect("conn");
    for (i, id) in (1..=3).zip(ids) {
        let timeline = klaxon::store::timeline::all(&mut conn, i)
            .await
            .expect("timeline");
        let entry = timeline.iter().find(|e| e.id == id).expect("entry");
        assert_eq!(entry.text, format!("entry {i}"));
    }
}
