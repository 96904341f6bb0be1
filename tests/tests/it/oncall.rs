//! `/inc oncall` through the engine, on the example schedule (`oncall/payments.toml`) and the
//! manual clock, which starts on Monday 2026-11-23 at 09:00 UTC.

use klaxon::config::Config;
use klaxon_commands::ReplyKind;
use klaxon_tests::TestBot;

async fn bot() -> TestBot {
    let mut config = Config::default();
    config.oncall.dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../oncall").into();
    TestBot::with_config(config).await
}

async fn ok(bot: &TestBot, line: &str) -> String {
    let reply = bot.say("oncall", "general", line).await;
    assert_eq!(reply.kind, ReplyKind::Ok, "{line} → {}", reply.to_plain());
    reply.to_plain()
}

async fn refused(bot: &TestBot, line: &str) -> String {
    let reply = bot.say("oncall", "general", line).await;
    assert_eq!(
        reply.kind,
        ReplyKind::UserError,
        "{line} → {}",
        reply.to_plain()
    );
    reply.to_plain()
}

#[tokio::test]
async fn oncall_says_who_holds_each_layer_until_when_and_who_is_next() {
    let bot = bot().await;
    assert_eq!(
        ok(&bot, "/inc oncall").await,
        "On call for payments\n\
         • primary: @U0ALICE until 2026-11-30 08:00 UTC · next @U0BOB\n\
         • secondary: @U0DAVE until 2026-11-23 15:00 UTC · next @U0ERIN\n\
         • manager: @U0MANAGER until 2026-11-23 17:00 UTC · next @U0MANAGER from 2026-11-24 08:00 UTC"
    );
    assert_eq!(
        ok(&bot, "/inc oncall payments/secondary").await,
        "On call for payments\n• secondary: @U0DAVE until 2026-11-23 15:00 UTC · next @U0ERIN"
    );
    // At night in Berlin the manager layer is empty, and says when it fills again.
    bot.clock.advance(std::time::Duration::from_secs(10 * 3600));
    let night = ok(&bot, "/inc oncall payments").await;
    assert!(
        night.contains("• manager: nobody now · next @U0MANAGER from 2026-11-24 08:00 UTC"),
        "{night}"
    );
}

#[tokio::test]
async fn a_cover_stands_in_for_its_span_is_listed_and_ends_on_its_own() {
    let bot = bot().await;
    assert_eq!(
        ok(&bot, "/inc oncall cover @bob 4h payments/secondary").await,
        "Cover #1: @bob holds payments/secondary until 2026-11-23 13:00 UTC. `/inc oncall uncover 1` removes it."
    );
    assert_eq!(
        ok(&bot, "/inc oncall payments/secondary").await,
        "On call for payments\n• secondary: @bob (cover) until 2026-11-23 13:00 UTC · next @U0DAVE"
    );
    assert_eq!(
        ok(&bot, "/inc oncall covers").await,
        "Covers (1):\n#1 payments/secondary: @bob 2026-11-23 09:00 UTC → 2026-11-23 13:00 UTC"
    );
    // Without a layer, a cover is for the first layer; without @someone, it is you.
    assert_eq!(
        ok(&bot, "/inc oncall cover until 12:00").await,
        "Cover #2: @oncall holds payments/primary until 2026-11-23 12:00 UTC. `/inc oncall uncover 2` removes it."
    );

    bot.clock.advance(std::time::Duration::from_secs(5 * 3600));
    assert_eq!(
        ok(&bot, "/inc oncall covers").await,
        "No covers now or ahead."
    );
    assert_eq!(
        refused(&bot, "/inc oncall uncover 1").await,
        "Cover #1 is already over."
    );
    let now = ok(&bot, "/inc oncall payments/secondary").await;
    assert!(
        now.contains("• secondary: @U0DAVE until 2026-11-23 15:00 UTC"),
        "{now}"
    );
}

#[tokio::test]
async fn an_uncovered_layer_goes_back_to_its_rotation_and_the_audit_trail_keeps_both() {
    let bot = bot().await;
    ok(&bot, "/inc oncall cover @carol until 2026-11-25 09:00 UTC").await;
    assert!(
        ok(&bot, "/inc oncall")
            .await
            .contains("• primary: @carol (cover) until 2026-11-25 09:00 UTC")
    );
    bot.clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(
        ok(&bot, "/inc oncall uncover #1").await,
        "Cover #1 removed: @carol no longer holds payments/primary; the rotation applies again."
    );
    assert!(
        ok(&bot, "/inc oncall")
            .await
            .contains("• primary: @U0ALICE until 2026-11-30 08:00 UTC")
    );
    assert_eq!(
        refused(&bot, "/inc oncall uncover 1").await,
        "Cover #1 is already over."
    );
    let mut conn = bot.store().conn().await.expect("conn");
    let stored = klaxon::store::oncall::get(&mut conn, 1)
        .await
        .expect("query")
        .expect("kept");
    assert_eq!(stored.created_by, "oncall");
    assert_eq!(
        stored.removed_at.map(|t| t.to_rfc3339()),
        Some("2026-11-23T09:01:00+00:00".to_owned())
    );
}

#[tokio::test]
async fn mistakes_get_a_clear_answer_and_change_nothing() {
    let bot = bot().await;
    for (line, answer) in [
        (
            "/inc oncall nope",
            "No schedule `nope`. Schedules: payments.",
        ),
        (
            "/inc oncall payments/tertiary",
            "`payments` has no layer `tertiary`. Layers: primary, secondary, manager.",
        ),
        (
            "/inc oncall cover until 2020-01-01",
            "2020-01-01 00:00 UTC has passed; a cover ends in the future.",
        ),
        (
            "/inc oncall cover 400d",
            "`400d` is too long: the longest duration is 366 days (`366d`).",
        ),
        (
            "/inc oncall uncover 9",
            "No cover #9. `/inc oncall covers` lists them.",
        ),
    ] {
        assert_eq!(refused(&bot, line).await, answer, "{line}");
    }
    assert_eq!(
        ok(&bot, "/inc oncall covers").await,
        "No covers now or ahead."
    );

    // Without schedule files, every form says how to add one.
    let bare = TestBot::start().await;
    let reply = bare.say("oncall", "general", "/inc oncall").await;
    assert_eq!(
        reply.to_plain(),
        "No on-call schedules are set up. Add oncall/<name>.toml files (README: On-call schedules)."
    );
}

#[tokio::test]
async fn a_swap_trades_two_shifts_as_two_covers() {
    let bot = bot().await;
    assert_eq!(
        ok(
            &bot,
            "/inc oncall swap @U0ALICE @U0BOB 2026-11-24 payments/primary"
        )
        .await,
        "Swap on payments/primary:\n\
         • @U0BOB holds 2026-11-23 09:00 UTC → 2026-11-30 08:00 UTC (cover #1)\n\
         • @U0ALICE holds 2026-11-30 08:00 UTC → 2026-12-07 08:00 UTC (cover #2)"
    );
    assert!(
        ok(&bot, "/inc oncall")
            .await
            .contains("• primary: @U0BOB (cover) until 2026-11-30 08:00 UTC · next @U0ALICE"),
    );
    bot.clock
        .advance(std::time::Duration::from_secs(8 * 86_400));
    assert!(
        ok(&bot, "/inc oncall")
            .await
            .contains("• primary: @U0ALICE (cover) until 2026-12-07 08:00 UTC · next @U0CAROL"),
    );
    // Someone who is not on call then has nothing to swap.
    assert_eq!(
        refused(&bot, "/inc oncall swap @U0DAVE @U0BOB 2026-12-08").await,
        "U0DAVE is not on call for payments/primary at 2026-12-08 00:00 UTC, so there is no shift to swap. `/inc oncall payments/primary` shows who is."
    );
    assert_eq!(
        refused(&bot, "/inc oncall swap @U0CAROL @U0DAVE 2026-12-08").await,
        "U0DAVE has no shift on payments/primary in the year after 2026-12-14 08:00 UTC, so there is nothing to give back. Use `/inc oncall cover` instead."
    );
}
