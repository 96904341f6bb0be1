//! Reminders on a controlled clock: cadence, escalation, checklist nudges, restarts.

use klaxon::config::Config;
use klaxon_tests::TestBot;

/// Declares an incident as alice and returns its channel.
async fn declared(bot: &TestBot, sev: &str) -> String {
    bot.ok(
        "alice",
        "general",
        &format!("/inc declare {sev} Checkout errors"),
    )
    .await;
    bot.settle().await;
    bot.channel_of(1).await
}

/// Posts in a channel since a count of calls, as plain text.
fn posts(bot: &TestBot, channel: &str) -> Vec<String> {
    bot.api.posts_in(channel)
}

fn reminders_in(bot: &TestBot, channel: &str) -> Vec<String> {
    posts(bot, channel)
        .into_iter()
        .filter(|p| p.starts_with("⏰ @"))
        .collect()
}

fn pages(bot: &TestBot) -> Vec<String> {
    posts(bot, "incidents")
        .into_iter()
        .filter(|p| p.starts_with("📟"))
        .collect()
}

/// No checklist: these tests look at one kind of reminder at a time.
fn quiet_config() -> Config {
    Config::parse("checklist = []").expect("config")
}

#[tokio::test]
async fn status_reminders_follow_the_severity_cadence() {
    for (sev, minutes, every) in [("sev1", 15, "15m"), ("sev2", 30, "30m"), ("sev3", 60, "1h")] {
        let bot = TestBot::with_config(quiet_config()).await;
        let ch = declared(&bot, sev).await;
        bot.ok("alice", &ch, "/inc ack").await;
        let fired = bot.advance(&format!("{}m", minutes - 1)).await;
        assert!(fired.is_empty(), "{sev}: {fired:?}");
        bot.advance("1m").await;
        assert_eq!(
            reminders_in(&bot, &ch),
            [format!(
                "⏰ @alice: no status update yet, {every} after declare. {} updates are due every {every}: /inc update <text>.",
                sev.to_uppercase()
            )],
            "{sev}"
        );
        // It repeats every cadence until an update arrives.
        bot.advance(&format!("{}m", minutes * 2)).await;
        assert_eq!(reminders_in(&bot, &ch).len(), 3, "{sev}");
    }
}

#[tokio::test]
async fn sev4_has_no_update_reminders() {
    let bot = TestBot::with_config(quiet_config()).await;
    let ch = declared(&bot, "sev4").await;
    bot.ok("alice", &ch, "/inc ack").await;
    bot.advance("12h").await;
    assert!(reminders_in(&bot, &ch).is_empty());
}

#[tokio::test]
async fn an_update_resets_the_clock_and_the_ic_is_reminded() {
    let bot = TestBot::with_config(quiet_config()).await;
    let ch = declared(&bot, "sev1").await;
    bot.ok("alice", &ch, "/inc ack").await;
    bot.ok("alice", &ch, "/inc lead @bob").await;
    bot.advance("10m").await;
    bot.ok("bob", &ch, "/inc update Rolled back").await;
    bot.advance("14m").await;
    assert!(reminders_in(&bot, &ch).is_empty());
    bot.advance("1m").await;
    assert_eq!(
        reminders_in(&bot, &ch),
        ["⏰ @bob: no status update for 15m. SEV1 updates are due every 15m: /inc update <text>."]
    );
}

#[tokio::test]
async fn severity_changes_rekey_both_ways() {
    let bot = TestBot::with_config(quiet_config()).await;
    let ch = declared(&bot, "sev3").await;
    bot.ok("alice", &ch, "/inc ack").await;
    bot.advance("20m").await;
    // Raised to SEV1 20 minutes in: 15 minutes are already past, so it reminds at once.
    bot.ok("alice", &ch, "/inc sev 1").await;
    let fired = bot.advance("1s").await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(reminders_in(&bot, &ch).len(), 1);
    // Lowered to SEV2: next due at last reminder + 30m? No: at declare + 30m (the rule is
    // last update + cadence, or now): that is 10 minutes from now.
    bot.ok("alice", &ch, "/inc sev 2").await;
    assert!(bot.advance("9m").await.is_empty());
    assert_eq!(bot.advance("1m").await.len(), 1);
    // Lowered to SEV3 after an update: the next reminder waits the full hour.
    bot.ok("alice", &ch, "/inc update stable").await;
    bot.ok("alice", &ch, "/inc sev 3").await;
    assert!(bot.advance("59m").await.is_empty());
    assert_eq!(bot.advance("1m").await.len(), 1);
}

#[tokio::test]
async fn snooze_every_off_and_on() {
    let bot = TestBot::with_config(quiet_config()).await;
    let ch = declared(&bot, "sev1").await;
    bot.ok("alice", &ch, "/inc ack").await;
    assert_eq!(
        bot.ok("alice", &ch, "/inc remind snooze 40m").await,
        "✓ Next update reminder at 09:40 UTC."
    );
    assert!(bot.advance("39m").await.is_empty());
    assert_eq!(bot.advance("1m").await.len(), 1);
    // After the snooze, the cadence resumes.
    assert!(bot.advance("14m").await.is_empty());
    assert_eq!(bot.advance("1m").await.len(), 1);

    assert_eq!(
        bot.ok("alice", &ch, "/inc remind every 5m").await,
        "✓ Update reminders every 5m, next at 09:55 UTC."
    );
    // Declared 55m ago with no update: due at once, then every 5m.
    assert_eq!(bot.advance("10m").await.len(), 3);

    assert_eq!(
        bot.ok("alice", &ch, "/inc remind off").await,
        "✓ Update reminders off. `/inc remind on` brings them back."
    );
    assert_eq!(
        bot.refused("alice", &ch, "/inc remind off").await,
        "Update reminders are already off."
    );
    assert_eq!(
        bot.refused("alice", &ch, "/inc remind snooze 5m").await,
        "Update reminders are off; `/inc remind on` first."
    );
    assert!(bot.advance("2h").await.is_empty());
    // Back on: the last update is long past, so the reminder is due at once.
    bot.ok("alice", &ch, "/inc remind on").await;
    assert_eq!(bot.advance("1s").await.len(), 1);

    let mut conn = bot.store().read().await.expect("conn");
    let kinds: Vec<String> = klaxon::store::timeline::all(&mut conn, 1)
        .await
        .expect("timeline")
        .into_iter()
        .filter(|e| e.kind.word() == "remind")
        .map(|e| e.text)
        .collect();
    assert_eq!(
        kinds,
        [
            "snoozed update reminders for 40m (next at 09:40 UTC)",
            "set update reminders every 5m, next at 09:55 UTC",
            "turned update reminders and checklist nudges off (escalation stays until /inc ack)",
            "turned update reminders on, next at 12:05 UTC",
        ]
    );
}

#[tokio::test]
async fn unacknowledged_incidents_escalate_tier_by_tier_until_ack() {
    let config = Config::parse(
        "checklist = []\n[escalation]\ndefault = [\"@primary\", \"@secondary\", \"@manager\"]",
    )
    .expect("config");
    let bot = TestBot::with_config(config).await;
    let ch = declared(&bot, "sev1").await;
    assert!(bot.advance("4m").await.is_empty());
    bot.advance("1m").await;
    bot.advance("5m").await;
    bot.advance("5m").await;
    bot.advance("5m").await;
    assert_eq!(
        pages(&bot),
        [
            format!(
                "📟 INC-1 (SEV1) is not acknowledged 5m after declare. Paging tier 1: @primary. Acknowledge with /inc ack in #{ch}."
            ),
            format!(
                "📟 INC-1 (SEV1) is not acknowledged 10m after declare. Paging tier 2: @secondary. Acknowledge with /inc ack in #{ch}."
            ),
            format!(
                "📟 INC-1 (SEV1) is not acknowledged 15m after declare. Paging tier 3, the last: @manager. Acknowledge with /inc ack in #{ch}."
            ),
            format!(
                "📟 INC-1 (SEV1) is not acknowledged 20m after declare. Paging tier 3, the last: @manager. Acknowledge with /inc ack in #{ch}."
            ),
        ]
    );
    bot.ok("carol", &ch, "/inc ack").await;
    bot.advance("1h").await;
    assert_eq!(pages(&bot).len(), 4, "acknowledged: no more pages");
}

#[tokio::test]
async fn escalate_by_hand_pages_the_next_tier_and_restarts_the_deadline() {
    let config = Config::parse(
        "checklist = []\n[escalation]\ndefault = [\"@primary\", \"@secondary\"]\nsev2 = [\"@sre\", \"@sre-lead\"]",
    )
    .expect("config");
    let bot = TestBot::with_config(config).await;
    let ch = declared(&bot, "sev2").await;
    bot.advance("10m").await;
    assert_eq!(
        bot.ok("alice", &ch, "/inc escalate").await,
        "✓ Paged tier 1: @sre."
    );
    // The automatic page now waits a full 15 minutes from the manual one.
    assert!(bot.advance("14m").await.is_empty());
    bot.advance("1m").await;
    let p = pages(&bot);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("📟 INC-1 (SEV2) was escalated by @alice. Paging tier 1: @sre."),
        "{}",
        p[0]
    );
    assert!(
        p[1].contains("Paging tier 2, the last: @sre-lead."),
        "{}",
        p[1]
    );
}

#[tokio::test]
async fn escalation_without_tiers_says_how_to_configure_them() {
    let bot = TestBot::with_config(quiet_config()).await;
    declared(&bot, "sev1").await;
    bot.advance("5m").await;
    let p = pages(&bot);
    assert!(
        p[0].contains("No escalation tiers are configured ([escalation] in klaxon.toml)."),
        "{p:?}"
    );
}

#[tokio::test]
async fn sev4_acknowledgement_waits_for_the_next_business_day() {
    let config =
        Config::parse("checklist = []\n[escalation]\ndefault = [\"@primary\"]").expect("config");
    let bot = TestBot::with_config(config).await;
    // Declared Monday 09:00 UTC: due Tuesday 09:00 UTC.
    declared(&bot, "sev4").await;
    assert!(bot.advance("23h59m").await.is_empty());
    assert_eq!(bot.advance("1m").await.len(), 1);
    assert_eq!(pages(&bot).len(), 1);
}

#[tokio::test]
async fn checklist_nudges_only_open_items_once() {
    let bot = TestBot::start().await;
    let ch = declared(&bot, "sev2").await;
    let checklist = posts(&bot, &ch)
        .into_iter()
        .find(|p| p.starts_with("🧭"))
        .expect("checklist posted");
    assert!(
        checklist.contains("2. ✅ Open the incident channel"),
        "{checklist}"
    );
    assert!(
        checklist.contains("4. ⬜ Capture the alert payload"),
        "{checklist}"
    );
    bot.advance("1m").await;
    bot.ok("alice", &ch, "/inc ack").await; // ticks item 1
    bot.ok("alice", &ch, "/inc check 4").await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc check 4").await,
        "Item 4 is already ticked (@alice, 09:01 UTC)."
    );
    assert_eq!(
        bot.refused("alice", &ch, "/inc check 9").await,
        "INC-1's checklist has 6 items; there is no item 9."
    );
    bot.advance("20m").await;
    let nudges: Vec<String> = posts(&bot, &ch)
        .into_iter()
        .filter(|p| p.starts_with("⏰ Checklist"))
        .collect();
    assert_eq!(
        nudges,
        [
            "⏰ Checklist item 3 is due: Classify severity; for SEV1/SEV2 name an incident commander. Tick it with /inc check 3.",
            "⏰ Checklist item 5 is due: Choose a mitigation: roll back, fail over, or disable the broken dependency. Tick it with /inc check 5.",
            "⏰ Checklist item 6 is due: Post the chosen mitigation with /inc update. Tick it with /inc check 6.",
        ]
    );
    bot.advance("2h").await;
    assert_eq!(
        posts(&bot, &ch)
            .iter()
            .filter(|p| p.starts_with("⏰ Checklist"))
            .count(),
        3,
        "one nudge per item"
    );
    let progress = bot.ok("alice", &ch, "/inc checklist").await;
    assert!(
        progress.starts_with("🧭 INC-1 checklist: 3/6 done"),
        "{progress}"
    );
    bot.ok("alice", &ch, "/inc uncheck 4").await;
    assert!(
        bot.ok("alice", &ch, "/inc checklist")
            .await
            .contains("4. ⬜ Capture")
    );
}

#[tokio::test]
async fn nothing_fires_after_resolve() {
    let config = Config::parse("[escalation]\ndefault = [\"@primary\"]").expect("config");
    let bot = TestBot::with_config(config).await;
    let ch = declared(&bot, "sev1").await;
    bot.ok("alice", &ch, "/inc resolve false alarm").await;
    let before = bot.api.calls().len();
    let fired = bot.advance("1d").await;
    assert!(fired.is_empty(), "{fired:?}");
    bot.settle().await;
    assert!(reminders_in(&bot, &ch).is_empty());
    assert!(pages(&bot).is_empty());
    // Only the resolution's own edits went out.
    assert!(bot.api.calls().len() - before <= 4);
    let mut conn = bot.store().read().await.expect("conn");
    // Only the postmortem's reminders remain: they begin at resolution.
    let pending = klaxon::store::reminders::pending_for(&mut conn, 1)
        .await
        .expect("q");
    assert!(!pending.is_empty());
    assert!(
        pending
            .iter()
            .all(|r| r.kind == klaxon::store::reminders::Kind::Postmortem),
        "{pending:?}"
    );
}

#[tokio::test]
async fn a_restart_fires_each_overdue_reminder_once() {
    let config =
        Config::parse("checklist = []\n[escalation]\ndefault = [\"@primary\"]").expect("config");
    let bot = TestBot::with_config(config).await;
    let ch = declared(&bot, "sev1").await;
    // The bot is down for two hours: eight update cadences and many escalation deadlines.
    let bot = bot.restart().await;
    bot.clock.advance(std::time::Duration::from_secs(2 * 3600));
    let fired = bot.advance("1s").await;
    let kinds: Vec<_> = fired.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            klaxon::store::reminders::Kind::Ack,
            klaxon::store::reminders::Kind::StatusUpdate
        ],
        "{fired:?}"
    );
    assert_eq!(reminders_in(&bot, &ch).len(), 1);
    assert_eq!(pages(&bot).len(), 1);
    // Then each resumes its cadence from when it fired.
    assert!(bot.advance("4m").await.is_empty());
    assert_eq!(bot.advance("1m").await.len(), 1);
}

#[tokio::test]
async fn two_incidents_never_interfere() {
    let bot = TestBot::with_config(quiet_config()).await;
    bot.ok("alice", "general", "/inc declare sev1 One").await;
    bot.ok("bob", "general", "/inc declare sev2 Two").await;
    bot.settle().await;
    let one = bot.channel_of(1).await;
    let two = bot.channel_of(2).await;
    bot.ok("alice", &one, "/inc ack").await;
    bot.ok("bob", &two, "/inc ack").await;
    bot.advance("10m").await;
    bot.ok("alice", &one, "/inc update fine").await;
    bot.ok("bob", &two, "/inc remind every 20m").await;
    bot.advance("30m").await;
    // One: updated at 10m, SEV1 every 15m → 25m, 40m. Two: every 20m from declare → 20m, 40m.
    assert_eq!(reminders_in(&bot, &one).len(), 2);
    assert_eq!(reminders_in(&bot, &two).len(), 2);
    assert!(
        reminders_in(&bot, &two)
            .iter()
            .all(|r| r.starts_with("⏰ @bob"))
    );
    bot.ok("alice", &one, "/inc resolve").await;
    bot.advance("20m").await;
    assert_eq!(reminders_in(&bot, &one).len(), 2);
    assert_eq!(reminders_in(&bot, &two).len(), 3);
}

#[tokio::test]
async fn quiet_hours_hold_sev3_until_business_hours_but_never_sev1() {
    let config = Config::parse(
        "checklist = []\n[reminders]\nbusiness_hours_only = [\"sev3\"]\n[business_hours]\ntimezone = \"Europe/Paris\"\nstart = \"09:00\"\nend = \"18:00\"",
    )
    .expect("config");
    let bot = TestBot::with_config(config).await;
    // 2026-11-23 09:00 UTC is 10:00 in Paris; move to 17:30 Paris (16:30 UTC).
    bot.advance("7h30m").await;
    bot.ok("alice", "general", "/inc declare sev3 Slow search")
        .await;
    bot.ok("alice", "general", "/inc declare sev1 Checkout down")
        .await;
    bot.settle().await;
    let sev3 = bot.channel_of(1).await;
    let sev1 = bot.channel_of(2).await;
    bot.ok("alice", &sev3, "/inc ack").await;
    bot.ok("alice", &sev1, "/inc ack").await;
    // The SEV3 reminder falls at 18:30 Paris: held until 09:00 Paris the next day.
    bot.advance("12h").await;
    assert!(reminders_in(&bot, &sev3).is_empty());
    assert_eq!(reminders_in(&bot, &sev1).len(), 48, "SEV1 always fires");
    bot.advance("4h").await;
    assert_eq!(
        reminders_in(&bot, &sev3).len(),
        1,
        "fires once at 09:00 Paris"
    );
}

#[tokio::test]
async fn a_crash_between_firing_and_sending_neither_loses_nor_repeats_the_reminder() {
    let bot = TestBot::with_config(quiet_config()).await;
    let ch = declared(&bot, "sev1").await;
    bot.ok("alice", &ch, "/inc ack").await;
    bot.clock.advance(std::time::Duration::from_secs(15 * 60));
    // The scheduler commits the firing (and its queued post), then the process dies before
    // the post is made.
    let fired = bot.app.scheduler.fire_due().await.expect("fire");
    assert_eq!(fired.len(), 1);
    let bot = bot.restart().await;
    bot.settle().await;
    bot.settle().await;
    assert_eq!(reminders_in(&bot, &ch).len(), 1);
    // And the schedule moved on: the next one is a full cadence later.
    assert!(bot.advance("14m").await.is_empty());
    assert_eq!(bot.advance("1m").await.len(), 1);
}

/// Many reminders due at the same instant fire once each, in due order (then the order they
/// were scheduled in), and their firings share COMMITs instead of taking one each.
#[tokio::test]
async fn reminders_due_together_fire_once_each_in_order_sharing_commits() {
    let bot = TestBot::with_config(quiet_config()).await;
    let n = 40;
    for i in 0..n {
        bot.ok("alice", "general", &format!("/inc declare sev1 Burst {i}"))
            .await;
    }
    bot.settle().await;
    // Every SEV1 asks for its first update 15 minutes after its declare: all at one instant
    // (and each its acknowledgement deadline, overdue by then: it fires once too).
    bot.clock.advance(std::time::Duration::from_secs(16 * 60));
    let before = bot.store().commits();
    let fired = bot.app.scheduler.fire_due().await.expect("fire");
    let commits = bot.store().commits() - before;
    bot.settle().await;
    let updates: Vec<i64> = fired
        .iter()
        .filter(|f| f.kind == klaxon::store::reminders::Kind::StatusUpdate)
        .map(|f| f.incident_id)
        .collect();
    assert_eq!(updates, (1..=n).collect::<Vec<i64>>(), "{fired:#?}");
    assert!(fired.iter().all(|f| f.posted));
    assert!(
        commits < fired.len() as u64,
        "{} firings took {commits} COMMITs",
        fired.len()
    );
    for i in 1..=n {
        let channel = bot.channel_of(i).await;
        assert_eq!(reminders_in(&bot, &channel).len(), 1, "INC-{i}");
    }
}
