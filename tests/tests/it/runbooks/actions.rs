//! Runbook actions: confirmation, dry runs, guardrails, secrets, timeouts and preconditions,
//! against a local target API.

use super::*;

#[tokio::test]
async fn an_action_with_confirmation_is_sent_once_with_its_parameters() {
    let (bot, target, ch) = setup("sev2").await;
    let asked = bot
        .ok(
            "alice",
            &ch,
            r#"/inc run disable-provider provider=stripe reason="card declines spiking""#,
        )
        .await;
    assert!(
        asked.starts_with("disable-provider will send:\nPUT "),
        "{asked}"
    );
    assert!(
        asked.contains(
            "/providers/stripe\nAuthorization: Bearer ••••••\nContent-Type: application/json"
        ),
        "{asked}"
    );
    assert!(!asked.contains(SECRET));
    assert!(
        target.received().is_empty(),
        "nothing is sent before confirmation"
    );
    let code = code_in(&asked);
    bot.settle().await;
    assert!(
        bot.api
            .posts_in(&ch)
            .iter()
            .any(|p| p.starts_with("⚠️ @alice asks to run disable-provider"))
    );

    let reply = bot.ok("alice", &ch, &format!("/inc confirm {code}")).await;
    assert_eq!(reply, sending("disable-provider"));
    let done = outcome(&bot, &ch, "disable-provider").await;
    assert!(
        done.starts_with(
            "⚡ @alice ran disable-provider provider=stripe reason=\"card declines spiking\": answered 200 in "
        ),
        "{done}"
    );
    assert!(done.ends_with(" ms, request id req-1."), "{done}");
    let received = target.received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("PUT", "/providers/stripe")
    );
    assert_eq!(
        r.body,
        r#"{"isActive": false, "reason": "card declines spiking", "incident": "INC-1"}"#
    );
    assert!(
        r.headers
            .contains(&("authorization".to_owned(), format!("Bearer {SECRET}")))
    );

    // The same code again, or a double click, sends nothing more.
    assert_eq!(
        bot.refused("alice", &ch, &format!("/inc confirm {code}"))
            .await,
        format!("Not run: code {code} was already used; run the action again for a new one.")
    );
    assert_eq!(target.received().len(), 1);
    let audit = audit(&bot).await;
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert!(audit[0].starts_with("Requested disable-provider provider=stripe reason=\"card declines spiking\"; awaiting confirmation until"));
    assert_eq!(
        audit[1],
        format!(
            "Confirmed disable-provider provider=stripe reason=\"card declines spiking\" (code {code})"
        )
    );
    assert!(audit[2].starts_with(
        "Ran disable-provider provider=stripe reason=\"card declines spiking\": answered 200 in"
    ));
    assert!(audit[2].ends_with("request id req-1"));
    assert!(audit[3].starts_with("Refused disable-provider"));
}

#[tokio::test]
async fn concurrent_confirmations_send_once() {
    let (bot, target, ch) = setup("sev1").await;
    let asked = bot
        .ok(
            "alice",
            &ch,
            "/inc run disable-provider provider=adyen reason=x",
        )
        .await;
    let code = code_in(&asked);
    let bot = std::sync::Arc::new(bot);
    let t = Tenant::new(klaxon_commands::PlatformKind::Console, "local");
    let mut tasks = Vec::new();
    for n in 0..5 {
        let (bot, t, ch, code) = (bot.clone(), t.clone(), ch.clone(), code.clone());
        // Three double clicks with their own delivery ids, two platform retries of one.
        let delivery = if n < 3 {
            format!("click-{n}")
        } else {
            "retry".to_owned()
        };
        tasks.push(tokio::spawn(async move {
            bot.invoke(
                &t,
                "alice",
                &ch,
                &format!("/inc confirm {code}"),
                Some(&delivery),
            )
            .await
        }));
    }
    let mut oks = Vec::new();
    let mut all = Vec::new();
    for task in tasks {
        let reply = task.await.expect("task");
        all.push(format!("{:?}: {}", reply.kind, reply.to_plain()));
        if reply.kind == ReplyKind::Ok {
            oks.push(reply.to_plain());
        }
    }
    // One confirmation sent; the only other success a platform can see is the same reply
    // again, for a retry of the delivery that sent it.
    assert!(!oks.is_empty() && oks.len() <= 2, "{all:#?}");
    assert!(oks.iter().all(|r| *r == oks[0]), "{oks:?}");
    bot.settle().await;
    assert_eq!(target.received().len(), 1);
}

#[tokio::test]
async fn dry_run_shows_the_request_and_sends_nothing() {
    let (bot, target, ch) = setup("sev2").await;
    let dry = bot
        .ok(
            "alice",
            &ch,
            r#"/inc run disable-provider provider=stripe reason="test" --dry-run"#,
        )
        .await;
    assert!(
        dry.starts_with(
            "Dry run of disable-provider — this is what would be sent (nothing was):\nPUT "
        ),
        "{dry}"
    );
    assert!(dry.contains("Authorization: Bearer ••••••"), "{dry}");
    assert!(
        dry.contains(r#"{"isActive": false, "reason": "test", "incident": "INC-1"}"#),
        "{dry}"
    );
    assert!(target.received().is_empty());
    assert_eq!(
        audit(&bot).await,
        [r#"Dry run of disable-provider provider=stripe reason=test: nothing sent"#]
    );
}

#[tokio::test]
async fn guardrails_refuse_and_audit_without_sending() {
    let (bot, target, ch) = setup("sev3").await;
    let cases = [
        (
            "bob",
            "/inc run status",
            "Not run: @bob may not run status; it needs the IC or its listed users.",
        ),
        (
            "alice",
            "/inc run disable-provider provider=stripe reason=x",
            "Not run: disable-provider runs only at SEV2 or worse; INC-1 is SEV3.",
        ),
        (
            "alice",
            "/inc run nuke",
            "Not run: there is no action `nuke` (actions: disable-provider, elsewhere, resume, slow, status).",
        ),
        (
            "alice",
            "/inc run elsewhere",
            "Not run: localhost:9 is not on the allow-list ([runbooks] allowed_hosts), so nothing was sent.",
        ),
        (
            "alice",
            "/inc run status verbose=1",
            "Not run: `status` takes no parameters; `verbose` is not one.",
        ),
    ];
    for (who, cmd, expected) in cases {
        assert_eq!(bot.refused(who, &ch, cmd).await, expected, "{cmd}");
    }
    bot.ok("alice", &ch, "/inc sev 2").await;
    for (cmd, expected) in [
        (
            "/inc run disable-provider provider=paypal reason=x",
            "Not run: `provider=paypal` must be one of stripe, adyen.",
        ),
        (
            "/inc run disable-provider provider=stripe",
            "Not run: `disable-provider` needs `reason=…`.",
        ),
    ] {
        assert_eq!(bot.refused("alice", &ch, cmd).await, expected, "{cmd}");
    }
    // A listed user may run it without a role.
    bot.ok("dave", &ch, "/inc run status").await;
    bot.settle().await;
    assert_eq!(target.received().len(), 1);
    let audit = audit(&bot).await;
    assert_eq!(
        audit.iter().filter(|a| a.starts_with("Refused")).count(),
        7,
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_missing_secret_fails_closed() {
    let target = Target::start().await;
    let bot = TestBot::with_runbooks(
        "checklist = []",
        &[("payments.toml", &runbook(&target.base))],
        &[],
        &target.allow(),
    )
    .await;
    bot.ok("alice", "general", "/inc declare sev1 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("alice", &ch, "/inc lead @alice").await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc run status").await,
        "Not run: the secret PAY_TOKEN is not set in Klaxon's environment, so nothing was sent."
    );
    assert!(target.received().is_empty());
}

#[tokio::test]
async fn confirmation_codes_expire() {
    let (bot, target, ch) = setup("sev1").await;
    let code = code_in(
        &bot.ok(
            "alice",
            &ch,
            "/inc run disable-provider provider=stripe reason=x",
        )
        .await,
    );
    bot.advance("5m1s").await;
    assert_eq!(
        bot.refused("alice", &ch, &format!("/inc confirm {code}"))
            .await,
        format!("Not run: code {code} expired; run the action again for a new one.")
    );
    assert!(target.received().is_empty());
    assert_eq!(
        bot.refused("alice", &ch, "/inc confirm ZZZZZZ").await,
        "No action in INC-1 waits for code ZZZZZZ."
    );
}

#[tokio::test]
async fn the_confirmer_must_be_allowed_too() {
    let (bot, target, ch) = setup("sev1").await;
    let code = code_in(
        &bot.ok(
            "alice",
            &ch,
            "/inc run disable-provider provider=stripe reason=x",
        )
        .await,
    );
    assert_eq!(
        bot.refused("mallory", &ch, &format!("/inc confirm {code}"))
            .await,
        "Not run: @mallory may not run disable-provider; it needs the IC or the Ops."
    );
    assert!(target.received().is_empty());
    bot.ok("alice", &ch, "/inc role ops @bob").await;
    bot.ok("bob", &ch, &format!("/inc confirm {code}")).await;
    bot.settle().await;
    assert_eq!(target.received().len(), 1);
}

#[tokio::test]
async fn a_failed_precondition_stops_the_action() {
    let (bot, target, ch) = setup("sev1").await;
    target.answer("/health", 503);
    assert_eq!(
        bot.ok("alice", &ch, "/inc run resume").await,
        sending("resume")
    );
    assert_eq!(
        outcome(&bot, &ch, "resume").await,
        "⚠️ @alice ran resume: was not sent: precondition \"risk controls healthy\" failed (answered 503)."
    );
    let paths: Vec<String> = target.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/health"], "the action itself was not sent");
    target.answer("/health", 200);
    bot.ok("alice", &ch, "/inc run resume").await;
    bot.settle().await;
    let paths: Vec<String> = target.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/health", "/health", "/resume"]);
}

#[tokio::test]
async fn a_slow_target_times_out_and_says_so() {
    let (bot, target, ch) = setup("sev1").await;
    target.delay("/slow", std::time::Duration::from_secs(3));
    assert_eq!(bot.ok("alice", &ch, "/inc run slow").await, sending("slow"));
    let reply = outcome(&bot, &ch, "slow").await;
    assert!(
        reply.starts_with("⚠️ @alice ran slow: got no answer (timed out after"),
        "{reply}"
    );
    let audit = audit(&bot).await;
    assert!(
        audit[0].starts_with("Ran slow: got no answer (timed out after"),
        "{audit:?}"
    );
}

#[tokio::test]
async fn secrets_never_reach_the_timeline_or_the_channel() {
    let (bot, _target, ch) = setup("sev1").await;
    bot.ok("alice", &ch, "/inc run status").await;
    bot.ok(
        "alice",
        &ch,
        "/inc run disable-provider provider=stripe reason=x --dry-run",
    )
    .await;
    let code = code_in(
        &bot.ok(
            "alice",
            &ch,
            "/inc run disable-provider provider=stripe reason=x",
        )
        .await,
    );
    bot.ok("alice", &ch, &format!("/inc confirm {code}")).await;
    bot.settle().await;
    let mut conn = bot.store().read().await.expect("conn");
    for e in klaxon::store::timeline::all(&mut conn, 1)
        .await
        .expect("timeline")
    {
        assert!(!e.text.contains(SECRET), "{}", e.text);
    }
    for call in bot.api.calls() {
        assert!(!format!("{call:?}").contains(SECRET), "{call:?}");
    }
    let runs = klaxon::store::runbooks::runs(&mut conn, 1)
        .await
        .expect("runs");
    assert_eq!(
        runs.len(),
        2,
        "a dry run is audited on the timeline but makes no run"
    );
    assert!(
        runs.iter().all(|r| !format!("{r:?}").contains(SECRET)),
        "{runs:?}"
    );
}

#[tokio::test]
async fn broken_runbooks_are_reported_and_skipped_at_start() {
    let target = Target::start().await;
    let broken = "id = \"broken\"\ntitle = \"x\"\ntriage = [\"a\"]\n[actions.go]\ntitle = \"go\"\nmethod = \"FETCH\"\nurl = \"https://x\"\nallowed_roles = [\"ic\"]\n";
    let bot = TestBot::with_runbooks(
        "checklist = []",
        &[
            ("a.toml", broken),
            ("payments.toml", &runbook(&target.base)),
        ],
        &[],
        &target.allow(),
    )
    .await;
    let list = bot.ok("alice", "general", "/inc runbook list").await;
    assert!(list.contains("payments"), "{list}");
    assert!(!list.contains("broken"), "{list}");
}

#[tokio::test]
async fn the_request_post_carries_a_confirm_button_that_sends_once() {
    let (bot, target, ch) = setup("sev1").await;
    let code = code_in(
        &bot.ok(
            "alice",
            &ch,
            "/inc run disable-provider provider=stripe reason=x",
        )
        .await,
    );
    bot.settle().await;
    let button = bot
        .api
        .calls()
        .into_iter()
        .find_map(|c| match c {
            klaxon_tests::Call::Post { message, .. } => message
                .buttons
                .into_iter()
                .find(|b| b.action == klaxon_commands::ButtonAction::Confirm),
            _ => None,
        })
        .expect("a Confirm button");
    assert_eq!(button.code.as_deref(), Some(code.as_str()));
    assert_eq!(button.incident, 1);
    assert!(button.danger && button.confirm.is_some());
    // A click is the confirm command on the button's incident, from wherever the post is.
    let click = |n: u32| klaxon_commands::Invocation {
        tenant: bot.tenant.clone(),
        channel: klaxon_commands::ChannelRef::new("anywhere", "anywhere"),
        user: klaxon_commands::UserRef::named("alice", "alice"),
        input: klaxon_commands::Input::Command(klaxon_commands::Command::Confirm {
            code: code.clone(),
        }),
        incident: Some(button.incident),
        delivery_id: Some(format!("click-{n}")),
    };
    let first = bot.app.engine.handle(click(1)).await;
    assert_eq!(first.kind, ReplyKind::Ok, "{}", first.to_plain());
    let second = bot.app.engine.handle(click(2)).await;
    assert_eq!(second.kind, ReplyKind::UserError);
    bot.settle().await;
    assert_eq!(target.received().len(), 1);
}
