//! The engine through its public API, with a recording platform and a manual clock.

mod guarantees;

use klaxon_commands::{PlatformKind, ReplyKind, Span, Tenant};
use klaxon_tests::{Call, TestBot, scenario};

const CHANNEL: &str = "inc-2026-11-23-checkout-api-returning-500s";

async fn kinds(bot: &TestBot, number: i64) -> Vec<String> {
    let mut conn = bot.store().read().await.expect("conn");
    let incident = klaxon::store::incidents::by_number(&mut conn, &bot.tenant, number)
        .await
        .expect("query")
        .expect("exists");
    klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
        .into_iter()
        .map(|e| e.kind.word().to_owned())
        .collect()
}

#[tokio::test]
async fn the_foundation_scenario_runs_end_to_end() {
    let bot = TestBot::start().await;
    let mut channel = "general".to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        bot.clock.advance(std::time::Duration::from_secs(60));
        let reply = bot.say("oncall", &channel, line).await;
        assert_eq!(reply.kind, ReplyKind::Ok, "{line} → {}", reply.to_plain());
        bot.settle().await;
        if n == 0 {
            channel = bot.channel_of(1).await;
        }
    }
    assert_eq!(channel, CHANNEL);
    assert_eq!(bot.api.created(), vec![CHANNEL]);

    // One announcement, edited in place on every change, never posted again.
    let announcements = bot.api.posts_in("incidents");
    assert_eq!(announcements.len(), 1, "{announcements:?}");
    assert!(announcements[0].starts_with("🟠 SEV2 · INC-1 · Checkout API returning 500s"));
    let edits = bot.api.edits_in("incidents");
    assert!(edits.len() >= 4, "{edits:?}");
    let last = edits.last().expect("edited");
    assert!(
        last.starts_with("✅ Resolved · SEV1 · INC-1 · Checkout API returning 500s"),
        "{last}"
    );
    assert!(last.contains("IC: @alice"), "{last}");
    assert!(
        last.contains("Acknowledged: @oncall at 09:02 UTC"),
        "{last}"
    );

    // The channel: summary posted and pinned, then every step shown.
    let posts = bot.api.posts_in(CHANNEL);
    assert!(
        posts[0].starts_with("🟠 SEV2 · INC-1 · Checkout API returning 500s"),
        "{posts:?}"
    );
    assert!(
        bot.api
            .calls()
            .iter()
            .any(|c| matches!(c, Call::Pin { channel, id } if channel == CHANNEL && id == "m2"))
    );
    let joined = posts.join("\n");
    for expected in [
        "👀 @oncall acknowledged (1m after declare).",
        "🎖️ @alice is now IC, set by @oncall.",
        "📣 Update · SEV2 · triage · from @oncall\nRolled back deploy 1234; error rate falling",
        "🔴 Severity raised: SEV2 → SEV1 by @oncall.",
        "🔁 Status: triage → recovering by @oncall.",
        "📝 @oncall: Support confirms recovery",
        "✅ Resolved by @oncall after 7m: Rollback fixed it",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in\n{joined}"
        );
    }

    // The timeline, in order, with UTC times.
    assert_eq!(
        kinds(&bot, 1).await,
        [
            "declared",
            "acknowledged",
            "role",
            "update",
            "severity",
            "status",
            "note",
            "resolved"
        ]
    );
    let tl = bot.ok("oncall", CHANNEL, "/inc timeline 3").await;
    assert_eq!(
        tl,
        "INC-1 timeline (last 3):\n\
         09:06 UTC · @oncall · status · Status triage → recovering\n\
         09:07 UTC · @oncall · note · Support confirms recovery\n\
         09:08 UTC · @oncall · resolved · Resolved after 7m: Rollback fixed it"
    );
}

#[tokio::test]
async fn declare_replies_and_opens_everything_once() {
    let bot = TestBot::start().await;
    let reply = bot
        .ok("alice", "general", "/inc declare sev1 DB down")
        .await;
    assert_eq!(
        reply,
        "🚨 INC-1 declared (SEV1) → #inc-2026-11-23-db-down. Next: /inc ack, /inc lead @someone."
    );
    bot.settle().await;
    let calls = bot.api.calls();
    assert!(matches!(&calls[0], Call::Create { name, invite, topic, .. }
        if name == "inc-2026-11-23-db-down"
        && invite[0].id == "alice"
        && topic.to_plain() == "SEV1 · triage · IC: unassigned · INC-1 DB down"));
    // Nothing more to do: a second drain makes no call.
    let before = bot.api.attempts();
    bot.settle().await;
    assert_eq!(bot.api.attempts(), before);
}

#[tokio::test]
async fn default_severity_comes_from_config() {
    let bot = TestBot::start().await;
    bot.ok("alice", "general", "/inc declare Search is slow")
        .await;
    let config =
        klaxon::config::Config::parse("[incidents]\ndefault_severity = \"sev4\"").expect("config");
    let bot4 = TestBot::with_config(config).await;
    bot4.ok("alice", "general", "/inc declare Search is slow")
        .await;
    bot.settle().await;
    bot4.settle().await;
    assert!(bot.api.posts_in("incidents")[0].starts_with("🟡 SEV3"));
    assert!(bot4.api.posts_in("incidents")[0].starts_with("🔵 SEV4"));
}

#[tokio::test]
async fn incident_commands_need_an_incident_channel_and_change_nothing_elsewhere() {
    let bot = TestBot::start().await;
    bot.ok("alice", "general", "/inc declare sev2 x").await;
    bot.settle().await;
    let before = bot.counts().await;
    for cmd in [
        "ack",
        "sev 1",
        "status contained",
        "update hi",
        "lead @bob",
        "note n",
        "timeline",
        "summary",
        "resolve",
        "reopen",
    ] {
        let text = bot
            .refused("alice", "general", &format!("/inc {cmd}"))
            .await;
        let name = cmd.split(' ').next().expect("word");
        assert_eq!(
            text,
            format!(
                "`/inc {name}` works in an incident's channel. `/inc list` shows open incidents; `/inc declare` opens one."
            )
        );
    }
    assert_eq!(bot.counts().await, before);
}

#[tokio::test]
async fn bad_input_gets_a_short_reply_and_changes_nothing() {
    let bot = TestBot::start().await;
    bot.ok("alice", "general", "/inc declare sev2 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    let before = bot.counts().await;
    let cases: Vec<(String, &str)> = vec![
        (
            "/inc decalre sev1 y".into(),
            "Unknown command `decalre`. Did you mean `/inc declare`? `/inc help` lists them all.",
        ),
        (
            "/inc declare".into(),
            "An incident needs a title, e.g. `/inc declare sev2 Checkout API returning 500s`.",
        ),
        (
            "/inc declare sev1".into(),
            "An incident needs a title, e.g. `/inc declare sev2 Checkout API returning 500s`.",
        ),
        (
            "/inc sev 9".into(),
            "`9` is not a severity. Use 1–4 (e.g. `sev1`, `SEV-2`, `3`).",
        ),
        (
            "/inc status done".into(),
            "`done` is not a status. Use one of: triage, contained, recovering, resolved.",
        ),
        (
            "/inc role ic".into(),
            "Who? Usage: `/inc role <ic|comms|scribe|ops> <@user>`.",
        ),
        ("/inc lead".into(), "Who leads? Usage: `/inc lead <@user>`."),
        (
            format!("/inc declare sev1 {}", "a".repeat(5_000)),
            "That title is 5000 characters; the limit is 200. Shorten it.",
        ),
        (
            "/inc note bad\u{1b}[2Jescape".into(),
            "That text contains control characters. Retype it without them.",
        ),
        ("/inc sev 2".into(), "INC-1 is already SEV2."),
        ("/inc status triage".into(), "INC-1 is already triage."),
        (
            "/inc reopen".into(),
            "INC-1 is still open (triage); only a resolved incident can be reopened.",
        ),
    ];
    for (input, expected) in &cases {
        let text = bot.refused("alice", &ch, input).await;
        assert_eq!(&text, expected, "{input:.40}");
        assert!(text.len() < 200, "reply too long: {text}");
    }
    assert_eq!(bot.counts().await, before);
}

#[tokio::test]
async fn lifecycle_refuses_invalid_transitions_clearly() {
    let bot = TestBot::start().await;
    bot.ok("alice", "general", "/inc declare sev3 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("bob", &ch, "/inc ack").await;
    assert_eq!(
        bot.refused("carol", &ch, "/inc ack").await,
        "Already acknowledged by @bob at 09:00 UTC."
    );
    // Moving between open states either way is allowed: incidents relapse.
    bot.ok("alice", &ch, "/inc status recovering").await;
    bot.ok("alice", &ch, "/inc status contained").await;
    bot.ok("alice", &ch, "/inc status resolved").await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc resolve").await,
        "INC-1 is already resolved."
    );
    for (cmd, what) in [
        ("/inc status triage", "change status"),
        ("/inc update more", "take updates (use `/inc note`)"),
        ("/inc lead @bob", "change roles"),
    ] {
        assert_eq!(
            bot.refused("alice", &ch, cmd).await,
            format!("INC-1 is resolved, so it cannot {what}. `/inc reopen` it first.")
        );
    }
    // Notes and reclassification stay possible after resolution, for the postmortem.
    bot.ok("alice", &ch, "/inc note found the root cause").await;
    bot.ok("alice", &ch, "/inc sev 2").await;
    bot.ok("alice", &ch, "/inc reopen").await;
    bot.ok("alice", &ch, "/inc status contained").await;
    assert_eq!(
        kinds(&bot, 1).await,
        [
            "declared",
            "acknowledged",
            "status",
            "status",
            "resolved",
            "note",
            "severity",
            "reopened",
            "status"
        ]
    );
}

#[tokio::test]
async fn summary_list_and_help() {
    let bot = TestBot::start().await;
    assert_eq!(
        bot.ok("a", "general", "/inc list").await,
        "No open incidents."
    );
    bot.ok("alice", "general", "/inc declare sev3 Search slow")
        .await;
    bot.ok("alice", "general", "/inc declare sev1 Checkout down")
        .await;
    bot.settle().await;
    bot.clock.advance(std::time::Duration::from_secs(25 * 60));
    let list = bot.ok("a", "general", "/inc list").await;
    assert_eq!(
        list,
        "Open incidents (2):\n\
         🔴 INC-2 · SEV1 · triage · Checkout down · #inc-2026-11-23-checkout-down · 25m\n\
         🟡 INC-1 · SEV3 · triage · Search slow · #inc-2026-11-23-search-slow · 25m"
    );
    let ch = bot.channel_of(2).await;
    bot.ok("alice", &ch, "/inc role comms @carol").await;
    bot.ok("alice", &ch, "/inc update Failing over to replica")
        .await;
    bot.clock.advance(std::time::Duration::from_secs(5 * 60));
    let summary = bot.ok("bob", &ch, "/inc summary").await;
    assert_eq!(
        summary,
        "🔴 SEV1 · INC-2 · Checkout down\n\
         Status: triage\n\
         Channel: #inc-2026-11-23-checkout-down\n\
         Age: 30m (declared 09:00 UTC by @alice)\n\
         Acknowledged: not yet\n\
         Roles: IC — · Comms @carol · Scribe — · Ops —\n\
         Last update: 09:25 UTC (5m ago): Failing over to replica"
    );
    let help = bot.ok("a", "general", "/inc help").await;
    assert!(
        help.contains("/inc declare [--private] [--oncall schedule] [sev1|sev2|sev3|sev4] <title> — Open an incident: a channel, an announcement and a timeline. (anywhere)"),
        "{help}"
    );
    assert_eq!(bot.ok("a", "general", "/inc").await, help);
    let one = bot.ok("a", "general", "/inc help lead").await;
    assert!(
        one.starts_with("/inc lead <@user>\nMake someone incident commander"),
        "{one}"
    );
}
