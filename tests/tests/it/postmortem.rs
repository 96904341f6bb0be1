//! Postmortem drafts, follow-ups, handoffs and their reminders, on a controlled clock.

use klaxon::config::Config;
use klaxon_tests::{Call, TestBot};

/// The scripted incident behind the golden draft: every kind of record, on a moving clock.
async fn scripted() -> (TestBot, String) {
    let config = Config::parse("[escalation]\ndefault = [\"@primary\"]").expect("config");
    let bot = TestBot::with_config(config).await;
    bot.ok(
        "alice",
        "general",
        "/inc declare sev2 Checkout API returning 500s | 2% of orders",
    )
    .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    let step = |by: &'static str| by;
    bot.advance("3m").await;
    bot.ok(step("bob"), &ch, "/inc ack").await;
    bot.ok("bob", &ch, "/inc lead @alice").await;
    bot.ok("alice", &ch, "/inc ref req-7f3a9c").await;
    bot.ok(
        "alice",
        &ch,
        "/inc impact 2% of checkout requests failed with 500s",
    )
    .await;
    bot.advance("6m").await;
    bot.ok(
        "alice",
        &ch,
        "/inc update Deploy 1234 suspected; rolling back",
    )
    .await;
    bot.ok("alice", &ch, "/inc sev 1").await;
    bot.ok("alice", &ch, "/inc status contained").await;
    bot.ok(
        "alice",
        &ch,
        "/inc followup add Alert on payment timeouts @bob due 2026-12-04",
    )
    .await;
    bot.ok(
        "alice",
        &ch,
        "/inc followup add Add a canary stage to deploys",
    )
    .await;
    bot.advance("12m").await;
    bot.ok(
        "alice",
        &ch,
        "/inc update Rollback complete; error rate back to baseline",
    )
    .await;
    bot.ok("alice", &ch, "/inc status recovering").await;
    bot.ok(
        "alice",
        &ch,
        "/inc rootcause Deploy 1234 removed the retry on payment-provider timeouts",
    )
    .await;
    bot.advance("9m").await;
    bot.ok("alice", &ch, "/inc resolve Rollback fixed it").await;
    bot.ok(
        "alice",
        &ch,
        "/inc lesson Roll back first, investigate second",
    )
    .await;
    bot.ok("alice", &ch, "/inc followup done 2").await;
    bot.advance("1h").await;
    bot.ok("alice", &ch, "/inc postmortem").await;
    bot.settle().await;
    (bot, ch)
}

async fn stored(bot: &TestBot, version: Option<i64>) -> Option<String> {
    let mut conn = bot.store().read().await.expect("conn");
    klaxon::store::postmortems::get(&mut conn, 1, version)
        .await
        .expect("query")
        .map(|d| d.markdown)
}

#[tokio::test]
async fn the_scripted_incident_renders_the_golden_draft() {
    let (bot, ch) = scripted().await;
    let markdown = stored(&bot, None).await.expect("draft stored");
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/golden/postmortem.md");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden, &markdown).expect("write golden");
    }
    let expected =
        std::fs::read_to_string(golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        markdown, expected,
        "the draft differs from tests/golden/postmortem.md (UPDATE_GOLDEN=1 rewrites it)"
    );
    // The channel got it as a file, with a short summary.
    let uploads: Vec<_> = bot
        .api
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Upload {
                channel,
                filename,
                content,
                comment,
            } => Some((channel, filename, content, comment.to_plain())),
            _ => None,
        })
        .collect();
    assert_eq!(uploads.len(), 1);
    let (channel, filename, content, comment) = &uploads[0];
    assert_eq!(channel, &ch);
    assert_eq!(filename, "INC-1-postmortem-v1.md");
    assert_eq!(content, &markdown);
    assert!(
        comment.starts_with("📝 Postmortem draft v1 of INC-1 by @alice:"),
        "{comment}"
    );
    assert!(
        comment.contains("Still to write: what went well, what went poorly."),
        "{comment}"
    );
}

#[tokio::test]
async fn every_draft_is_a_new_version_and_old_ones_are_kept() {
    let (bot, ch) = scripted().await;
    bot.ok(
        "alice",
        &ch,
        "/inc lesson Canary deploys would have caught it",
    )
    .await;
    assert_eq!(
        bot.ok("alice", &ch, "/inc pm").await,
        "✓ Postmortem draft v2 saved. `klaxon postmortem 1` prints it."
    );
    let v1 = stored(&bot, Some(1)).await.expect("v1 kept");
    let v2 = stored(&bot, Some(2)).await.expect("v2");
    assert!(!v1.contains("Canary deploys would have caught it"));
    assert!(v2.contains("- Canary deploys would have caught it"));
    assert!(v2.contains("_Draft v2 written by Klaxon"), "{v2}");
    assert_eq!(stored(&bot, None).await, Some(v2));
}

#[tokio::test]
async fn empty_sections_carry_prompts_and_nothing_is_invented() {
    let bot = TestBot::with_config(Config::parse("checklist = []").expect("config")).await;
    bot.ok("alice", "general", "/inc declare sev3 Search is slow")
        .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("alice", &ch, "/inc postmortem").await;
    let md = stored(&bot, None).await.expect("draft");
    for prompt in [
        "**Incident:** INC-1 (still triage)",
        "**Duration:** 2026-11-23 09:00:00 UTC → ongoing (0s)",
        "**Detected by:** _How was it noticed: an alert, a customer report, an engineer?_ Declared by @alice.",
        "**Resolved by:** _not resolved yet_",
        "_Who was affected, how, and for how long?",
        "No status updates were posted to draw it from._",
        "_The underlying cause, not the trigger.",
        "_Assigned, dated actions:",
        "_One or two things worth remembering",
    ] {
        assert!(md.contains(prompt), "missing {prompt:?} in\n{md}");
    }
    assert!(!md.contains("**Correlation IDs:**"));
    assert!(!md.contains("| # | Action |"));
}

#[tokio::test]
async fn overdue_follow_ups_remind_their_owner_until_done() {
    let bot = TestBot::with_config(Config::parse("checklist = []").expect("config")).await;
    bot.ok("alice", "general", "/inc declare sev2 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc followup add Fix it due 2026-11-01")
            .await,
        "2026-11-01 is in the past. Give a due date from 2026-11-23 on."
    );
    bot.ok(
        "alice",
        &ch,
        "/inc followup add Add the alert @bob due 2026-11-25",
    )
    .await;
    bot.ok(
        "alice",
        &ch,
        "/inc followup add Write the runbook due 2026-11-25",
    )
    .await;
    bot.ok("alice", &ch, "/inc resolve").await;
    let list = bot.ok("alice", &ch, "/inc followup list").await;
    assert_eq!(
        list,
        "INC-1 follow-ups (2 open):\n1. ⬜ Add the alert · @bob · due 2026-11-25\n2. ⬜ Write the runbook · due 2026-11-25"
    );
    let reminders = |bot: &TestBot| -> Vec<String> {
        bot.api
            .posts_in(&ch)
            .into_iter()
            .filter(|p| p.starts_with("📌 @"))
            .collect()
    };
    // Due Wednesday: overdue from Thursday 09:00 (business hours start, UTC).
    bot.advance("2d23h59m").await;
    assert!(reminders(&bot).is_empty());
    bot.advance("1m").await;
    assert_eq!(
        reminders(&bot),
        [
            "📌 @bob: follow-up 1 of INC-1 is overdue (due 2026-11-25): Add the alert. /inc followup done 1 when it is.",
            "📌 @alice: follow-up 2 of INC-1 is overdue (due 2026-11-25): Write the runbook. /inc followup done 2 when it is.",
        ]
    );
    bot.ok("bob", &ch, "/inc followup done 1").await;
    assert_eq!(
        bot.refused("bob", &ch, "/inc followup done 1").await,
        "Follow-up 1 is already done (@bob)."
    );
    assert_eq!(
        bot.refused("bob", &ch, "/inc followup done 7").await,
        "INC-1 has no follow-up 7. `/inc followup list` shows them."
    );
    // A week later only the open one reminds again.
    bot.advance("7d").await;
    let r = reminders(&bot);
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[2].starts_with("📌 @alice: follow-up 2"), "{}", r[2]);
}

#[tokio::test]
async fn the_postmortem_is_due_five_business_days_after_resolution() {
    let bot = TestBot::with_config(Config::parse("checklist = []").expect("config")).await;
    bot.ok("alice", "general", "/inc declare sev1 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("alice", &ch, "/inc ack").await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc postmortem done").await,
        "INC-1 is still open; resolve it first, then write the postmortem."
    );
    // Resolved Monday 09:00: due Monday 2026-11-30 09:00; reminded Friday, then when overdue.
    assert_eq!(
        bot.ok("alice", &ch, "/inc resolve").await,
        "✓ INC-1 resolved after 0s. Postmortem due by 2026-11-30 09:00:00 UTC: /inc postmortem drafts it."
    );
    let notes = |bot: &TestBot| -> Vec<String> {
        bot.api
            .posts_in(&ch)
            .into_iter()
            .filter(|p| p.starts_with("📝 @") && p.contains("the postmortem of"))
            .collect()
    };
    bot.advance("3d23h59m").await;
    assert!(notes(&bot).is_empty());
    bot.advance("1m").await;
    assert_eq!(
        notes(&bot),
        [
            "📝 @alice: the postmortem of INC-1 is due by 2026-11-30 09:00:00 UTC. /inc postmortem drafts it from the record; /inc postmortem done when it is written."
        ]
    );
    // Friday → Monday: due; then overdue every business day (Tuesday), none on the weekend.
    bot.advance("3d").await;
    assert_eq!(notes(&bot).len(), 2);
    assert!(notes(&bot)[1].contains("is overdue (it was due by 2026-11-30 09:00:00 UTC)"));
    bot.advance("1d").await;
    assert_eq!(notes(&bot).len(), 3);
    bot.ok("alice", &ch, "/inc postmortem done").await;
    assert!(
        bot.refused("alice", &ch, "/inc postmortem done")
            .await
            .starts_with("INC-1's postmortem was marked done at")
    );
    bot.advance("10d").await;
    assert_eq!(notes(&bot).len(), 3, "done stops the reminders");
}

#[tokio::test]
async fn reopening_cancels_the_postmortem_reminders_until_the_next_resolution() {
    let bot = TestBot::with_config(Config::parse("checklist = []").expect("config")).await;
    bot.ok("alice", "general", "/inc declare sev3 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("alice", &ch, "/inc ack").await;
    bot.ok("alice", &ch, "/inc resolve").await;
    bot.ok("alice", &ch, "/inc reopen").await;
    bot.ok("alice", &ch, "/inc remind off").await;
    bot.advance("10d").await;
    assert!(bot.api.posts_in(&ch).iter().all(|p| !p.starts_with("📝 @")));
}

#[tokio::test]
async fn handoff_posts_the_record_and_moves_the_ic_role() {
    let (bot, ch) = {
        let bot = TestBot::start().await;
        bot.ok("alice", "general", "/inc declare sev1 Payments down")
            .await;
        bot.settle().await;
        let ch = bot.channel_of(1).await;
        (bot, ch)
    };
    bot.ok("alice", &ch, "/inc ack").await;
    bot.ok("alice", &ch, "/inc ref req-1").await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc ref req-1").await,
        "`req-1` is already recorded on INC-1."
    );
    bot.ok("alice", &ch, "/inc impact Card payments fail").await;
    bot.ok("alice", &ch, "/inc note guardrail: risk kill switch holds")
        .await;
    bot.ok("alice", &ch, "/inc check 4").await;
    bot.ok(
        "alice",
        &ch,
        "/inc followup add Rotate the provider key @dave",
    )
    .await;
    assert_eq!(
        bot.ok("alice", &ch, "/inc handoff @carol").await,
        "✓ Handoff posted; @carol is IC of INC-1."
    );
    bot.settle().await;
    let handoff = bot
        .api
        .posts_in(&ch)
        .into_iter()
        .find(|p| p.starts_with("🤝"))
        .expect("handoff posted");
    assert_eq!(
        handoff,
        "🤝 Handoff · INC-1 · SEV1 · to @carol\n\
         Incident ID: INC-1\n\
         Severity: SEV1\n\
         Channel: #inc-2026-11-23-payments-down\n\
         Start time (UTC): 2026-11-23 09:00:00 UTC\n\
         Current status: triage\n\
         Correlation IDs: req-1\n\
         Impact summary: Card payments fail\n\
         Guardrails confirmed: risk kill switch holds\n\
         Verification steps done: 1. Acknowledge the page; 2. Open the incident channel; 3. Classify severity; for SEV1/SEV2 name an incident commander; 4. Capture the alert payload, the last deploy and the top failing endpoints\n\
         Remaining risks: checklist 5: Choose a mitigation: roll back, fail over, or disable the broken dependency; checklist 6: Post the chosen mitigation with /inc update; follow-up 1: Rotate the provider key\n\
         Owner: @carol (from @alice)\n\
         Next decision checkpoint (UTC): 09:12 UTC (checklist item due)"
    );
    // Item 3 ("name an incident commander") was ticked by the role change the handoff made,
    // before the handoff was written.
    let summary = bot.ok("carol", &ch, "/inc summary").await;
    assert!(summary.contains("Roles: IC @carol"), "{summary}");
    // Reminders now go to the new IC.
    bot.advance("15m").await;
    assert!(
        bot.api
            .posts_in(&ch)
            .iter()
            .any(|p| p.starts_with("⏰ @carol: no status update"))
    );
    // A handoff without @to keeps the owner.
    assert_eq!(
        bot.ok("carol", &ch, "/inc handoff").await,
        "✓ Handoff posted; @carol stays owner of INC-1."
    );
}
