//! Runbooks: validation, list/show/start, decision trees, and guarded actions against a local
//! target API.

mod actions;

use klaxon_commands::{ReplyKind, Tenant};
use klaxon_tests::TestBot;
use klaxon_tests::target::Target;

const SECRET: &str = "s3cr3t-t0ken-value";

/// A runbook whose actions call `base`.
fn runbook(base: &str) -> String {
    format!(
        r#"
id = "payments"
title = "Payments failing"
severity = "sev2"
owners = {{ primary = "Payments on-call" }}
triggers = ["Card payments failing"]
triage = [
  "Check the provider status page",
  {{ text = "Look at the error logs", command = "journalctl -u payments -n 50" }},
  {{ text = "Disable the failing provider", action = "disable-provider" }},
]
evidence = ["Request ids"]

[[escalation]]
condition = "All providers down"
primary = "Payments on-call"
escalate_to = "CTO"

[decision]
start = "one"
[decision.nodes.one]
question = "Is one provider failing?"
yes = "disable"
no = "all"
[decision.nodes.disable]
recommend = "Disable it."
action = "disable-provider"
[decision.nodes.all]
question = "Pick the scope"
choices = {{ region = "regional", global = "disable" }}
[decision.nodes.regional]
recommend = "Fail over the region."

[actions.disable-provider]
title = "Disable a payment provider"
method = "PUT"
url = "{base}/providers/{{{{ provider | urlencode }}}}"
body = '{{"isActive": false, "reason": {{{{ reason | tojson }}}}, "incident": {{{{ incident.key | tojson }}}}}}'
headers = {{ Authorization = "Bearer {{{{ secret.PAY_TOKEN }}}}", Content-Type = "application/json" }}
timeout = "10s"
allowed_roles = ["ic", "ops"]
min_severity = "sev2"
confirm = true
[actions.disable-provider.params.provider]
kind = "enum"
values = ["stripe", "adyen"]
[actions.disable-provider.params.reason]
kind = "text"

[actions.status]
title = "Provider status"
method = "GET"
url = "{base}/status"
headers = {{ Authorization = "Bearer {{{{ secret.PAY_TOKEN }}}}" }}
allowed_roles = ["ic"]
allowed_users = ["dave"]
confirm = false

[actions.resume]
title = "Resume payments"
method = "POST"
url = "{base}/resume"
allowed_roles = ["ic"]
confirm = false
[[actions.resume.preconditions]]
name = "risk controls healthy"
url = "{base}/health"
expect_status = 200

[actions.slow]
title = "A slow call"
method = "POST"
url = "{base}/slow"
timeout = "1s"
allowed_roles = ["ic"]
confirm = false

[actions.elsewhere]
title = "Call a host outside the allow-list"
method = "POST"
url = "http://localhost:9/x"
allowed_roles = ["ic"]
confirm = false
"#
    )
}

/// A bot with the payments runbook, an incident declared by alice (IC), and the target.
async fn setup(sev: &str) -> (TestBot, Target, String) {
    let target = Target::start().await;
    let bot = TestBot::with_runbooks(
        "checklist = []",
        &[("payments.toml", &runbook(&target.base))],
        &[("PAY_TOKEN", SECRET)],
        &target.allow(),
    )
    .await;
    bot.ok(
        "alice",
        "general",
        &format!("/inc declare {sev} Card payments failing"),
    )
    .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("alice", &ch, "/inc lead @alice").await;
    (bot, target, ch)
}

async fn audit(bot: &TestBot) -> Vec<String> {
    let mut conn = bot.store().read().await.expect("conn");
    klaxon::store::timeline::all(&mut conn, 1)
        .await
        .expect("timeline")
        .into_iter()
        .filter(|e| e.kind.word() == "action")
        .map(|e| e.text)
        .collect()
}

/// Waits for the actions in flight and returns the post that reports `action`'s outcome (the
/// last one).
async fn outcome(bot: &TestBot, ch: &str, action: &str) -> String {
    bot.settle().await;
    bot.api
        .posts_in(ch)
        .into_iter()
        .rev()
        .find(|p| p.contains(&format!(" ran {action}")))
        .unwrap_or_else(|| panic!("no outcome of {action} in {:#?}", bot.api.posts_in(ch)))
}

/// The reply to a run that is sent: given before the request is made.
fn sending(action: &str) -> String {
    format!("Sending {action} now; its outcome will be posted in this channel.")
}

fn code_in(reply: &str) -> String {
    reply
        .split("/inc confirm ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a confirmation code")
        .to_owned()
}

#[tokio::test]
async fn list_show_and_start() {
    let (bot, _target, ch) = setup("sev2").await;
    let list = bot.ok("bob", "general", "/inc runbook list").await;
    assert!(
        list.contains("payments · Payments failing (SEV2)"),
        "{list}"
    );
    let show = bot.ok("bob", "general", "/inc runbook show payments").await;
    for part in [
        "Owners: primary Payments on-call",
        "Trigger signals:\n  1. Card payments failing",
        "  2. Look at the error logs — `journalctl -u payments -n 50`",
        "  3. Disable the failing provider — /inc run disable-provider",
        "Escalation:\n  1. All providers down → Payments on-call, escalate to CTO",
        "/inc run disable-provider provider=… reason=… — Disable a payment provider",
    ] {
        assert!(show.contains(part), "missing {part:?} in\n{show}");
    }
    assert_eq!(
        bot.refused("bob", "general", "/inc runbook show paymnts")
            .await,
        "No runbook `paymnts`. Did you mean `payments`? `/inc runbook list` shows them."
    );
    assert!(
        bot.refused("bob", "general", "/inc runbook start payments")
            .await
            .starts_with("`/inc runbook` works in an incident's channel.")
    );
    assert_eq!(
        bot.ok("alice", &ch, "/inc runbook start payments").await,
        "✓ Runbook payments started on INC-1: 3 triage steps added to the checklist."
    );
    assert!(
        bot.refused("alice", &ch, "/inc runbook start payments")
            .await
            .contains("already running runbook payments")
    );
    bot.settle().await;
    let post = bot
        .api
        .posts_in(&ch)
        .into_iter()
        .find(|p| p.starts_with("📘"))
        .expect("posted");
    assert!(
        post.contains("1. ⬜ Check the provider status page"),
        "{post}"
    );
    assert!(
        post.contains("Decide: Is one provider failing? → /inc next yes|no"),
        "{post}"
    );
    bot.ok("alice", &ch, "/inc check 2").await;
    let checklist = bot.ok("alice", &ch, "/inc checklist").await;
    assert!(
        checklist.contains("2. ✅ [payments] Look at the error logs"),
        "{checklist}"
    );
}

#[tokio::test]
async fn the_decision_tree_walks_and_records_every_step() {
    let (bot, _target, ch) = setup("sev2").await;
    assert!(
        bot.refused("alice", &ch, "/inc next")
            .await
            .contains("no runbook yet")
    );
    bot.ok("alice", &ch, "/inc runbook start payments").await;
    assert_eq!(
        bot.ok("alice", &ch, "/inc next").await,
        "🧭 Is one provider failing? → /inc next yes|no"
    );
    assert_eq!(
        bot.refused("alice", &ch, "/inc next maybe").await,
        "Answer with yes, no: Is one provider failing?"
    );
    assert_eq!(
        bot.ok("alice", &ch, "/inc next no").await,
        "✓ Next: Pick the scope → /inc next global|region"
    );
    assert_eq!(
        bot.ok("alice", &ch, "/inc next global").await,
        "✓ Recommended: Disable it. (/inc run disable-provider)"
    );
    assert_eq!(
        bot.ok("alice", &ch, "/inc next").await,
        "🧭 Recommended: Disable it. (/inc run disable-provider)"
    );
    assert!(
        bot.refused("alice", &ch, "/inc next yes")
            .await
            .starts_with("The decision tree has ended")
    );
    let mut conn = bot.store().read().await.expect("conn");
    let steps: Vec<String> = klaxon::store::timeline::all(&mut conn, 1)
        .await
        .expect("timeline")
        .into_iter()
        .filter(|e| e.kind.word() == "decision")
        .map(|e| e.text)
        .collect();
    assert_eq!(
        steps,
        [
            "[payments] Is one provider failing? → no. Next: Pick the scope → /inc next global|region",
            "[payments] Pick the scope → global. Recommended: Disable it. (/inc run disable-provider)",
        ]
    );
}
