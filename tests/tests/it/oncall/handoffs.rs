//! Shift handoffs on the manual clock: the reminder before a shift, the post at its handoff
//! naming the incoming and outgoing people with the open incidents each is in (the handoff
//! fields of each), covers applied at fire time, and each notice posted once, restarts
//! included.

use klaxon::config::Config;
use klaxon_tests::TestBot;

async fn bot() -> TestBot {
    let config = Config::parse(&format!(
        "checklist = []\n[oncall]\ndir = {:?}\n[oncall.handoffs]\n\
         targets = [{{ platform = \"console\", workspace = \"local\", channel = \"oncall\" }}]\n\
         remind_before = \"1h\"\n",
        super::SCHEDULES
    ))
    .expect("config");
    TestBot::with_config(config).await
}

/// The posts in the on-call channel about `layer` of payments.
fn about(bot: &TestBot, layer: &str) -> Vec<String> {
    let name = format!("payments/{layer}");
    bot.api
        .posts_in("oncall")
        .into_iter()
        .filter(|p| p.lines().next().is_some_and(|l| l.contains(&name)))
        .collect()
}

#[tokio::test]
async fn a_shift_is_announced_before_and_handed_off_with_each_persons_incidents() {
    let bot = bot().await;
    // U0BOB declares an incident and makes U0ALICE its commander; both are in it.
    bot.ok("U0BOB", "general", "/inc declare sev2 Checkout slow")
        .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("U0BOB", &ch, "/inc lead @U0ALICE").await;
    bot.ok("U0BOB", &ch, "/inc impact 5% of checkouts fail")
        .await;

    // Monday 2026-11-30 07:00 UTC: an hour before U0BOB's week on the primary layer.
    bot.advance("6d21h59m").await;
    assert!(
        about(&bot, "primary").is_empty(),
        "{:?}",
        about(&bot, "primary")
    );
    bot.advance("1m").await;
    assert_eq!(
        about(&bot, "primary"),
        [
            "⏰ @U0BOB: you are on call for payments/primary from 2026-11-30 08:00 UTC until 2026-12-07 08:00 UTC."
        ]
    );

    bot.advance("1h").await;
    let posts = about(&bot, "primary");
    assert_eq!(posts.len(), 2, "{posts:#?}");
    let handoff = &posts[1];
    let lines: Vec<&str> = handoff.lines().collect();
    assert_eq!(
        lines[0],
        "🔁 Handoff of payments/primary at 2026-11-30 08:00 UTC: @U0BOB is on call until 2026-12-07 08:00 UTC, taking over from @U0ALICE."
    );
    assert_eq!(lines[1], "@U0BOB (incoming): 1 open incident:");
    assert_eq!(lines[2], "— INC-1 · SEV2");
    for field in [
        "    Incident ID: INC-1",
        "    Severity: SEV2",
        "    Current status: triage",
        "    Impact summary: 5% of checkouts fail",
        "    Remaining risks: none open",
        "    Owner: @U0ALICE",
    ] {
        assert!(lines.contains(&field), "{field:?} missing in\n{handoff}");
    }
    assert!(
        lines.contains(&"@U0ALICE (outgoing): 1 open incident:"),
        "{handoff}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("    Next decision checkpoint (UTC): ")),
        "{handoff}"
    );

    // Nothing is posted twice, restarts included.
    let bot = bot.restart().await;
    bot.settle().await;
    bot.advance("1m").await;
    assert_eq!(about(&bot, "primary").len(), 2);
}

#[tokio::test]
async fn a_cover_set_after_planning_changes_who_takes_over() {
    let bot = bot().await;
    // Sunday 2026-12-06 09:00 UTC: the handoff of Monday 08:00 UTC is planned (U0BOB to
    // U0CAROL); then U0ZED covers that day.
    bot.advance("6d").await;
    bot.advance("7d").await;
    bot.ok(
        "oncall",
        "general",
        "/inc oncall cover @U0ZED from 2026-12-07 08:00 for 1d payments/primary",
    )
    .await;
    bot.advance("1d").await;
    let posts = about(&bot, "primary");
    let handoffs: Vec<&str> = posts
        .iter()
        .filter_map(|p| p.lines().next())
        .filter(|l| l.starts_with("🔁"))
        .collect();
    assert_eq!(
        handoffs.last(),
        Some(
            &"🔁 Handoff of payments/primary at 2026-12-07 08:00 UTC: @U0ZED is on call until 2026-12-08 08:00 UTC, taking over from @U0BOB."
        ),
        "{posts:#?}"
    );
    // The reminder, an hour before, went to whoever was to be on call then: U0ZED.
    assert!(
        posts
            .iter()
            .any(|p| p.starts_with("⏰ @U0ZED: you are on call for payments/primary from 2026-12-07 08:00 UTC until 2026-12-08 08:00 UTC.")),
        "{posts:#?}"
    );
    // The day after, U0CAROL takes over from the cover.
    bot.advance("1d").await;
    let last = about(&bot, "primary")
        .into_iter()
        .rfind(|p| p.starts_with("🔁"))
        .expect("a handoff");
    assert!(
        last.starts_with("🔁 Handoff of payments/primary at 2026-12-08 08:00 UTC: @U0CAROL is on call until 2026-12-14 08:00 UTC, taking over from @U0ZED."),
        "{last}"
    );
}
