//! `/inc oncall` through the engine, on the example schedule (`oncall/payments.toml`) and the
//! manual clock, which starts on Monday 2026-11-23 at 09:00 UTC; `dst` holds schedules of
//! its own across daylight-saving changes, `feeds` the calendar feeds.

mod direct;
mod discord;
mod dst;
mod feeds;
mod form;
mod handoffs;
mod metrics;

use klaxon::config::Config;
use klaxon_commands::ReplyKind;
use klaxon_tests::TestBot;

const SCHEDULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../oncall");

async fn bot() -> TestBot {
    let mut config = Config::default();
    config.oncall.dir = SCHEDULES.into();
    TestBot::with_config(config).await
}

/// A bot on the example schedules with `config` (TOML) around them.
async fn bot_with(config: &str) -> TestBot {
    let config =
        Config::parse(&format!("{config}\n[oncall]\ndir = {SCHEDULES:?}\n")).expect("config");
    TestBot::with_config(config).await
}

/// The escalation pages posted in the paging channel.
fn pages(bot: &TestBot) -> Vec<String> {
    bot.api
        .posts_in("incidents")
        .into_iter()
        .filter(|p| p.starts_with("📟"))
        .collect()
}

/// The text of the incident's timeline entries of `kind`.
async fn entries(bot: &TestBot, kind: &str) -> Vec<String> {
    let mut conn = bot.store().read().await.expect("conn");
    let incident = klaxon::store::incidents::by_number(&mut conn, &bot.tenant, 1)
        .await
        .expect("query")
        .expect("incident");
    klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
        .into_iter()
        .filter(|e| e.kind.word() == kind)
        .map(|e| e.text)
        .collect()
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
    let mut conn = bot.store().read().await.expect("conn");
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

#[tokio::test]
async fn escalation_pages_whoever_is_on_call_then_covers_included() {
    let bot = bot_with(
        "checklist = []\n[escalation]\nsev1 = [\"schedule:payments/primary\", \"schedule:payments/secondary\", \"@manager\"]",
    )
    .await;
    // Bob covers the primary layer for an hour, from 09:00 UTC.
    ok(&bot, "/inc oncall cover @U0BOB 1h payments/primary").await;
    bot.ok("alice", "general", "/inc declare sev1 Checkout errors")
        .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.advance("5m").await;
    bot.advance("5m").await;
    assert_eq!(
        pages(&bot),
        [
            format!(
                "📟 INC-1 (SEV1) is not acknowledged 5m after declare. Paging tier 1: @U0BOB (on call for payments/primary, covering). Acknowledge with /inc ack in #{ch}."
            ),
            format!(
                "📟 INC-1 (SEV1) is not acknowledged 10m after declare. Paging tier 2: @U0DAVE (on call for payments/secondary). Acknowledge with /inc ack in #{ch}."
            ),
        ]
    );
    // The timeline keeps who was on call then, not who is on call when it is read.
    assert_eq!(
        entries(&bot, "escalated").await,
        [
            "Paged tier 1: @U0BOB (on call for payments/primary, covering)",
            "Paged tier 2: @U0DAVE (on call for payments/secondary)",
        ]
    );
    // Once the cover is over, the rotation's person is paged.
    bot.ok("carol", &ch, "/inc ack").await;
    bot.advance("50m").await;
    bot.ok("alice", "general", "/inc declare sev1 Search down")
        .await;
    bot.advance("5m").await;
    let last = pages(&bot).pop().expect("a page");
    assert!(
        last.starts_with("📟 INC-2 (SEV1) is not acknowledged 5m after declare. Paging tier 1: @U0ALICE (on call for payments/primary)."),
        "{last}"
    );
}

#[tokio::test]
async fn a_layer_with_nobody_on_call_pages_the_next_tier_and_says_so() {
    let bot = bot_with(
        "checklist = []\n[escalation]\nsev2 = [\"schedule:payments/manager\", \"schedule:payments/secondary\"]",
    )
    .await;
    // 20:00 UTC is 21:00 in Berlin: the manager layer has nobody.
    bot.clock.advance(std::time::Duration::from_secs(11 * 3600));
    bot.ok("alice", "general", "/inc declare sev2 Checkout errors")
        .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    assert_eq!(
        bot.ok("alice", &ch, "/inc escalate").await,
        "✓ Paged tier 2: @U0ERIN. Nobody is on call for payments/manager (tier 1)."
    );
    bot.settle().await;
    assert_eq!(
        pages(&bot),
        [format!(
            "📟 INC-1 (SEV2) was escalated by @alice. Nobody is on call for payments/manager (tier 1). Paging tier 2, the last: @U0ERIN (on call for payments/secondary). Acknowledge with /inc ack in #{ch}."
        )]
    );
    assert_eq!(
        entries(&bot, "escalated").await,
        [
            "Paged tier 2: @U0ERIN (on call for payments/secondary); nobody on call for payments/manager (tier 1)"
        ]
    );
}

#[tokio::test]
async fn a_declare_naming_a_schedule_invites_and_pings_its_on_call_person() {
    let bot = bot_with("checklist = []").await;
    ok(&bot, "/inc oncall cover @U0ERIN 2h payments/secondary").await;
    let reply = bot
        .ok(
            "alice",
            "general",
            "/inc declare sev2 --oncall payments/secondary checkout slow",
        )
        .await;
    assert!(
        reply.ends_with(
            "Paged @U0ERIN, on call for payments/secondary, covering: invited and pinged."
        ),
        "{reply}"
    );
    let reply = bot
        .ok(
            "alice",
            "general",
            "/inc declare sev2 --oncall payments search slow",
        )
        .await;
    assert!(
        reply.ends_with("Paged @U0ALICE, on call for payments/primary: invited and pinged."),
        "{reply}"
    );
    bot.settle().await;
    let invited: Vec<Vec<String>> = bot
        .api
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            klaxon_tests::Call::Create { invite, .. } => {
                Some(invite.into_iter().map(|u| u.id).collect())
            }
            _ => None,
        })
        .collect();
    // Different incidents' channels are made concurrently, in either order.
    let mut invited = invited;
    invited.sort();
    assert_eq!(invited, [vec!["alice", "U0ALICE"], vec!["alice", "U0ERIN"]]);
    let ch = bot.channel_of(1).await;
    assert!(
        bot.api.posts_in(&ch).contains(
            &"📟 @U0ERIN: you are on call for payments/secondary, covering, so you are paged for INC-1. /inc ack when you are on it.".to_owned()
        ),
        "{:?}",
        bot.api.posts_in(&ch)
    );
    assert_eq!(
        entries(&bot, "paged").await,
        ["Invited and pinged @U0ERIN (on call for payments/secondary, covering)"]
    );
}

#[tokio::test]
async fn a_declare_naming_an_unknown_schedule_is_refused_and_changes_nothing() {
    let bot = bot_with("checklist = []").await;
    let before = bot.counts().await;
    assert_eq!(
        bot.refused(
            "alice",
            "general",
            "/inc declare sev2 --oncall billing checkout slow"
        )
        .await,
        "No schedule `billing`. Schedules: payments."
    );
    assert_eq!(
        bot.refused(
            "alice",
            "general",
            "/inc declare --oncall payments/night checkout slow"
        )
        .await,
        "`payments` has no layer `night`. Layers: primary, secondary, manager."
    );
    assert_eq!(bot.counts().await, before);
    // With nobody on call (the manager layer at night), the incident is declared and says so.
    bot.clock.advance(std::time::Duration::from_secs(11 * 3600));
    let reply = bot
        .ok(
            "alice",
            "general",
            "/inc declare sev3 --oncall payments/manager x",
        )
        .await;
    assert!(
        reply.ends_with("Nobody is on call for payments/manager now, so nobody was paged. `/inc oncall` shows who is next."),
        "{reply}"
    );
}

#[tokio::test]
async fn a_cover_may_start_later_and_holds_only_its_span() {
    let bot = bot().await;
    assert_eq!(
        ok(
            &bot,
            "/inc oncall cover @U0CAROL from 2026-11-24 18:00 until 2026-11-25 06:00 payments/primary"
        )
        .await,
        "Cover #1: @U0CAROL holds payments/primary from 2026-11-24 18:00 UTC until 2026-11-25 06:00 UTC. `/inc oncall uncover 1` removes it."
    );
    assert_eq!(
        ok(
            &bot,
            "/inc oncall cover @U0BOB from 18:00 for 2h payments/secondary"
        )
        .await,
        "Cover #2: @U0BOB holds payments/secondary from 2026-11-23 18:00 UTC until 2026-11-23 20:00 UTC. `/inc oncall uncover 2` removes it."
    );
    // Not begun: the rotation holds now, and the covers are listed ahead.
    assert!(
        ok(&bot, "/inc oncall payments/primary")
            .await
            .contains("• primary: @U0ALICE until 2026-11-24 18:00 UTC · next @U0CAROL"),
    );
    assert_eq!(
        ok(&bot, "/inc oncall covers").await,
        "Covers (2):\n\
         #1 payments/primary: @U0CAROL 2026-11-24 18:00 UTC → 2026-11-25 06:00 UTC\n\
         #2 payments/secondary: @U0BOB 2026-11-23 18:00 UTC → 2026-11-23 20:00 UTC"
    );
    bot.clock.advance(std::time::Duration::from_secs(34 * 3600));
    assert!(
        ok(&bot, "/inc oncall payments/primary")
            .await
            .contains("• primary: @U0CAROL (cover) until 2026-11-25 06:00 UTC · next @U0ALICE"),
    );
    for (line, answer) in [
        (
            "/inc oncall cover from 2026-11-01 09:00 for 2h",
            "2026-11-01 09:00 UTC has passed; a cover starts now or later.",
        ),
        (
            "/inc oncall cover from 2026-12-01 09:00 until 2026-11-30 09:00",
            "The cover would start at 2026-12-01 09:00 UTC and must end after that, within 366 days.",
        ),
    ] {
        assert_eq!(refused(&bot, line).await, answer, "{line}");
    }
}
