//! Discord messages added to the timeline: the message command, and a 📌 reaction that
//! follows edits and removal.

use klaxon::store::Store;
use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD};
use klaxon_tests::spawn::discord::{ONCALL, config, ephemeral, next_id, settings};
use klaxon_tests::spawn::{Discord, Options, spawn};
use klaxon_tests::wait::{LIMIT, eventually};
use serde_json::json;

async fn timeline_of(path: &str, number: i64) -> Vec<klaxon::store::timeline::Entry> {
    let store = Store::open(path).await.expect("store");
    let mut conn = store.read().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Discord, GUILD);
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, number)
        .await
        .expect("q")
        .expect("incident");
    klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
}

#[tokio::test]
async fn add_to_timeline_captures_a_message_once_with_its_own_time_and_author() {
    let k = spawn(Discord, Options::default()).await;
    let channel = k.declare("/inc declare sev2 Login failures").await;
    // Unprivileged: no message content intent unless reaction capture is configured.
    assert_eq!(k.fake.intents().map(|i| i & (1 << 15)), Some(0));
    let elsewhere = fake_discord::user_message(
        "660000000000000001",
        GENERAL,
        "100000000000000012",
        "unrelated",
        "2026-11-23T08:59:00.000000+00:00",
    );
    let r = k
        .fake
        .interact(fake_discord::add_to_timeline(
            &next_id(),
            ONCALL,
            GENERAL,
            &elsewhere,
        ))
        .await;
    assert!(ephemeral(&r).starts_with("⚠️"), "{r}");
    let message = fake_discord::user_message(
        "660000000000000002",
        &channel,
        "100000000000000012",
        "Saw 502s from the auth proxy at 08:57 **before** the deploy",
        "2026-11-23T08:57:30.000000+00:00",
    );
    for _ in 0..2 {
        let r = k
            .fake
            .interact(fake_discord::add_to_timeline(
                &next_id(),
                ONCALL,
                &channel,
                &message,
            ))
            .await;
        assert_eq!(ephemeral(&r), "📌 Added to INC-1's timeline.");
    }
    let path = k.db.clone();
    let _dir = k.stop().await;
    let captured: Vec<_> = timeline_of(&path, 1)
        .await
        .into_iter()
        .filter(|e| e.kind.word() == "captured")
        .collect();
    assert_eq!(captured.len(), 1, "the same message twice is one entry");
    assert_eq!(captured[0].at.to_rfc3339(), "2026-11-23T08:57:30+00:00");
    assert_eq!(captured[0].actor.id, "100000000000000012");
    assert!(captured[0].text.contains("502s from the auth proxy"));
}

#[tokio::test]
async fn a_pushpin_reaction_captures_and_follows_edits_and_removal() {
    let fake = FakeDiscord::start().await;
    let s = settings(&fake);
    let mut cfg = config("");
    cfg.discord.capture_emoji = Some("📌".to_owned());
    let k = spawn(
        Discord,
        Options::default().fake(fake).settings(s).config(cfg),
    )
    .await;
    assert_eq!(
        k.fake.intents().map(|i| i & (1 << 15)),
        Some(1 << 15),
        "the message content intent is asked for"
    );
    let channel = k.declare("/inc declare sev2 Disk full on db-3").await;
    let id = "660000000000000003";
    k.fake.add_message(
        &channel,
        id,
        "100000000000000011",
        "db-3 at 100% since 08:40",
        "2026-11-23T08:41:00.000000+00:00",
    );
    k.fake.dispatch(
        "MESSAGE_REACTION_ADD",
        fake_discord::reaction(ONCALL, &channel, id, "📌"),
    );
    // Another emoji does nothing.
    k.fake.dispatch(
        "MESSAGE_REACTION_ADD",
        fake_discord::reaction(ONCALL, &channel, id, "👀"),
    );
    let path = k.db.clone();
    let captured = |entries: Vec<klaxon::store::timeline::Entry>| -> Vec<String> {
        entries
            .into_iter()
            .filter(|e| e.kind.word() == "captured")
            .map(|e| e.text)
            .collect()
    };
    let ok = eventually(LIMIT, async || {
        captured(timeline_of(&path, 1).await).len() == 1
    })
    .await;
    assert!(ok, "the reaction captured the message");
    k.fake.dispatch(
        "MESSAGE_UPDATE",
        json!({ "id": id, "channel_id": channel, "guild_id": GUILD, "content": "db-3 at 100% since 08:38",
                "edited_timestamp": "2026-11-23T09:05:00.000000+00:00" }),
    );
    let edited = eventually(LIMIT, async || {
        captured(timeline_of(&path, 1).await)
            .iter()
            .any(|t| t.contains("08:38"))
    })
    .await;
    assert!(edited, "the edit is followed");
    k.fake.dispatch(
        "MESSAGE_REACTION_REMOVE",
        fake_discord::reaction(ONCALL, &channel, id, "📌"),
    );
    let removed = eventually(LIMIT, async || {
        captured(timeline_of(&path, 1).await).is_empty()
    })
    .await;
    assert!(removed, "removing the reaction removes the entry");
    let _ = k.stop().await;
}
