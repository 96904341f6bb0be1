//! What holds whatever arrives: tenants apart, repeated deliveries once, colliding channel
//! names, user text as typed, role changes, concurrent declares and private incidents.

use super::*;

#[tokio::test]
async fn tenants_never_see_each_other() {
    let bot = TestBot::start().await;
    let a = Tenant::new(PlatformKind::Console, "team-a");
    let b = Tenant::new(PlatformKind::Console, "team-b");
    for t in [&a, &b] {
        let r = bot
            .invoke(t, "alice", "general", "/inc declare sev2 Same title", None)
            .await;
        assert!(
            r.to_plain().starts_with("🚨 INC-1 declared"),
            "{}",
            r.to_plain()
        );
    }
    bot.settle().await;
    // Both channels have the same planned name in their own workspace; each command finds
    // only its own tenant's incident.
    // (One recorder stands in for both workspaces, so one of them got a suffix; look it up.)
    let a_channel = {
        let mut conn = bot.store().read().await.expect("conn");
        klaxon::store::incidents::by_number(&mut conn, &a, 1)
            .await
            .expect("query")
            .and_then(|i| i.channel_id)
            .expect("channel")
    };
    let r = bot
        .invoke(&a, "alice", &a_channel, "/inc sev 1", None)
        .await;
    assert_eq!(r.kind, ReplyKind::Ok, "{}", r.to_plain());
    let list_b = bot
        .invoke(&b, "bob", "general", "/inc list", None)
        .await
        .to_plain();
    assert!(list_b.contains("INC-1 · SEV2"), "{list_b}");
    let list_other = bot
        .invoke(&bot.tenant, "bob", "general", "/inc list", None)
        .await
        .to_plain();
    assert_eq!(list_other, "No open incidents.");
}

#[tokio::test]
async fn duplicate_deliveries_have_one_effect() {
    let bot = TestBot::start().await;
    let t = bot.tenant.clone();
    let first = bot
        .invoke(
            &t,
            "alice",
            "general",
            "/inc declare sev1 Payments down",
            Some("Ev123"),
        )
        .await;
    let again = bot
        .invoke(
            &t,
            "alice",
            "general",
            "/inc declare sev1 Payments down",
            Some("Ev123"),
        )
        .await;
    assert_eq!(first, again);
    bot.settle().await;
    assert_eq!(bot.api.created().len(), 1);
    let ch = bot.channel_of(1).await;
    let before = bot.counts().await;
    let r1 = bot
        .invoke(&t, "bob", &ch, "/inc update Mitigating", Some("click-1"))
        .await;
    let r2 = bot
        .invoke(&t, "bob", &ch, "/inc update Mitigating", Some("click-1"))
        .await;
    assert_eq!(r1, r2);
    let after = bot.counts().await;
    let timeline = |c: &[(String, i64)]| c.iter().find(|(t, _)| t == "timeline").map(|(_, n)| *n);
    assert_eq!(timeline(&after), timeline(&before).map(|n| n + 1));
}

#[tokio::test]
async fn channel_names_collide_deterministically() {
    let bot = TestBot::start().await;
    // An archived channel on the platform already has the first name.
    bot.api.take_name("inc-2026-11-23-checkout-errors");
    bot.ok("a", "general", "/inc declare sev2 Checkout errors")
        .await;
    bot.ok("a", "general", "/inc declare sev2 Checkout errors!")
        .await;
    bot.ok("a", "general", "/inc declare sev3 checkout   ERRORS")
        .await;
    bot.settle().await;
    // Klaxon plans the base name, -2 and -3 from its own records. The platform already holds
    // the base name, so the first incident moves on to the first suffix no incident of Klaxon's
    // holds (-4), never to a name another incident planned, and never adopts the old channel.
    let mut created = bot.api.created();
    created.sort();
    assert_eq!(
        created,
        [
            "inc-2026-11-23-checkout-errors-2",
            "inc-2026-11-23-checkout-errors-3",
            "inc-2026-11-23-checkout-errors-4"
        ]
    );
    assert_eq!(bot.channel_of(2).await, "inc-2026-11-23-checkout-errors-2");
    assert_eq!(bot.channel_of(3).await, "inc-2026-11-23-checkout-errors-3");
    // Posts written before the channel existed still land in the channel it really got.
    assert_eq!(bot.channel_of(1).await, "inc-2026-11-23-checkout-errors-4");
    assert!(
        !bot.api
            .posts_in("inc-2026-11-23-checkout-errors-4")
            .is_empty()
    );
    let announcement = &bot.api.posts_in("incidents")[0];
    assert!(
        announcement.contains("Channel: #inc-2026-11-23-checkout-errors-4"),
        "{announcement}"
    );
    // The next day starts a new name.
    bot.clock.advance(std::time::Duration::from_secs(24 * 3600));
    bot.ok("a", "general", "/inc declare sev2 Checkout errors")
        .await;
    bot.settle().await;
    assert!(
        bot.api
            .created()
            .contains(&"inc-2026-11-24-checkout-errors".to_owned())
    );
}

#[tokio::test]
async fn user_text_is_stored_as_typed_and_never_markup() {
    let bot = TestBot::start().await;
    let title = "@everyone <!channel> **x** <@U123>";
    bot.ok("a", "general", &format!("/inc declare sev1 {title}"))
        .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok(
        "a",
        &ch,
        "/inc note @here <!here> `rm -rf` [link](http://x)",
    )
    .await;
    bot.settle().await;
    let mut conn = bot.store().read().await.expect("conn");
    let incident = klaxon::store::incidents::by_number(&mut conn, &bot.tenant, 1)
        .await
        .expect("query")
        .expect("exists");
    assert_eq!(incident.title, title);
    // Every span Klaxon wrote itself is free of user text: user text only ever travels as
    // `Span::User`, which each adapter escapes for its platform.
    for call in bot.api.calls() {
        let riches: Vec<klaxon_commands::Rich> = match call {
            Call::Post { message, .. } | Call::Edit { message, .. } => message
                .lines
                .into_iter()
                .chain(message.fields.into_iter().map(|f| f.value))
                .collect(),
            Call::Topic { topic, .. } | Call::Create { topic, .. } => vec![topic],
            _ => vec![],
        };
        for rich in riches {
            for span in rich.0 {
                if let Span::Plain(t) | Span::Strong(t) = span {
                    for bad in [
                        "@everyone",
                        "<!channel>",
                        "@here",
                        "<!here>",
                        "**x**",
                        "<@U123>",
                    ] {
                        assert!(
                            !t.contains(bad),
                            "user text {bad:?} outside a User span: {t:?}"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn role_changes_invite_and_record_who_was_replaced() {
    let bot = TestBot::start().await;
    bot.ok("a", "general", "/inc declare sev2 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("a", &ch, "/inc lead @alice").await;
    bot.ok("a", &ch, "/inc role ic @bob").await;
    assert_eq!(
        bot.refused("a", &ch, "/inc role ic @bob").await,
        "@bob is already IC."
    );
    bot.settle().await;
    let invites: Vec<_> = bot
        .api
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Invite { users, .. } => Some(users),
            _ => None,
        })
        .collect();
    assert_eq!(invites, [vec!["alice".to_owned()], vec!["bob".to_owned()]]);
    let posts = bot.api.posts_in(&ch).join("\n");
    assert!(
        posts.contains("🎖️ @bob is now IC (was @alice), set by @a."),
        "{posts}"
    );
}

#[tokio::test]
async fn concurrent_declares_get_distinct_numbers() {
    let bot = std::sync::Arc::new(TestBot::start().await);
    let mut tasks = Vec::new();
    for n in 0..20 {
        let bot = bot.clone();
        tasks.push(tokio::spawn(async move {
            bot.say(
                "a",
                "general",
                &format!("/inc declare sev3 Outage number {n}"),
            )
            .await
        }));
    }
    for t in tasks {
        let reply = t.await.expect("task");
        assert_eq!(reply.kind, ReplyKind::Ok, "{}", reply.to_plain());
    }
    let mut conn = bot.store().read().await.expect("conn");
    let open = klaxon::store::incidents::open(&mut conn, &bot.tenant)
        .await
        .expect("open");
    let mut numbers: Vec<i64> = open.iter().map(|i| i.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_private_incident_gets_a_private_channel_and_a_redacted_paging_channel() {
    let config = klaxon::config::Config::parse(
        "checklist = []\n[escalation]\ndefault = [\"@primary\", \"@secondary\"]",
    )
    .expect("config");
    let bot = TestBot::with_config(config).await;
    let reply = bot
        .ok(
            "alice",
            "general",
            "declare --private sev1 Leaked signing key",
        )
        .await;
    assert!(
        reply.starts_with("🚨 INC-1 declared (SEV1, private) → #inc-"),
        "{reply}"
    );
    bot.settle().await;
    let created: Vec<(String, bool)> = bot
        .api
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Create { name, private, .. } => Some((name, private)),
            _ => None,
        })
        .collect();
    assert_eq!(
        created,
        [("inc-2026-11-23-leaked-signing-key".to_owned(), true)]
    );
    let channel = bot.channel_of(1).await;
    // Inside the channel everything is as usual.
    assert!(bot.api.posts_in(&channel)[0].contains("Leaked signing key"));

    // Every change, escalation pages and `/inc list` included, keeps the title and the
    // channel's name (which comes from the title) out of the paging channel.
    bot.ok("alice", &channel, "lead @bob").await;
    bot.ok("bob", &channel, "escalate").await;
    bot.advance("6m").await;
    bot.ok("bob", &channel, "sev 2").await;
    bot.ok("bob", &channel, "resolve Rotated").await;
    bot.settle().await;
    let announcement = bot.api.posts_in("incidents");
    assert_eq!(
        announcement.len(),
        3,
        "announcement and two pages: {announcement:?}"
    );
    assert_eq!(
        announcement[0],
        "🔒 🔴 SEV1 · INC-1 · private incident\nStatus: triage\nChannel: private · ask @alice for access\nIC: unassigned\nDeclared: @alice at 09:00 UTC\nAcknowledged: not yet"
    );
    assert!(
        announcement[1].contains("It is private: acknowledge with the announcement's button or /inc ack in its channel (ask @bob for access)."),
        "{}",
        announcement[1]
    );
    let edits = bot.api.edits_in("incidents");
    assert!(edits.len() >= 2, "{edits:?}");
    assert!(
        edits
            .last()
            .is_some_and(|e| e.starts_with("✅ Resolved · 🔒 SEV2 · INC-1 · private incident")),
        "{edits:?}"
    );
    for text in announcement.iter().chain(&edits) {
        assert!(!text.to_lowercase().contains("leaked"), "{text}");
        assert!(!text.contains("signing"), "{text}");
    }
    bot.ok("carol", &channel, "reopen").await;
    let list = bot.ok("carol", "general", "list").await;
    assert!(
        list.contains("🔒 🟠 INC-1 · SEV2 · triage · private incident · ask @bob for access"),
        "{list}"
    );
    assert!(!list.contains("Leaked"), "{list}");
}
