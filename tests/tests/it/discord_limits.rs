//! Discord's limits, met by Klaxon against the strict fake: the 2-per-10-minutes topic bucket
//! holds back nothing else, and a full category overflows into another.

use std::time::Duration;

use klaxon_tests::fake_discord::{CATEGORY, GENERAL, GUILD, PAGING};

use klaxon_tests::fake_discord::FakeDiscord;
use klaxon_tests::spawn::discord::{ONCALL, ephemeral};
use klaxon_tests::spawn::{Bot, Discord, Options, spawn};

/// Channels in the guild whose parent is `category`.
fn children(k: &Bot<FakeDiscord>, category: &str) -> usize {
    k.fake
        .channels()
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(category))
        .count()
}

#[tokio::test]
async fn a_rate_limited_topic_edit_holds_back_neither_later_posts_nor_the_next_incident() {
    let k = spawn(Discord, Options::default()).await;
    let first = k
        .declare("/inc declare sev2 Checkout API returning 500s")
        .await;
    let topic_edits = |k: &Bot<FakeDiscord>| {
        k.fake
            .calls_to("PATCH", &format!("/channels/{first}"))
            .iter()
            .filter(|b| b.get("topic").is_some())
            .count()
    };
    // Two topic edits go through (each waited for, so neither supersedes the other); the
    // third meets Discord's bucket.
    for (n, line) in ["/inc lead @alice", "/inc sev 1", "/inc status recovering"]
        .into_iter()
        .enumerate()
    {
        let text = ephemeral(&k.say(ONCALL, &first, line).await);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
        if n < 2 {
            assert!(k.fake.until(|_| topic_edits(&k) == n + 1).await);
        }
    }
    // The incident's own later post goes out while the topic waits.
    ephemeral(
        &k.say(ONCALL, &first, "/inc update Still rolling back")
            .await,
    );
    let posted = k
        .fake
        .until_for(Duration::from_secs(3), |f| {
            f.calls_to("POST", &format!("/channels/{first}/messages"))
                .iter()
                .any(|b| b.to_string().contains("Still rolling back"))
        })
        .await;
    assert!(posted, "{:#?}", k.fake.calls());
    // The live state is right in the pinned summary and the announcement.
    let summary = k.fake.until(|f| {
        f.calls_to("PATCH", &format!("/channels/{first}/messages/*"))
            .iter()
            .any(|b| b.to_string().contains("recovering"))
    });
    assert!(summary.await, "{:#?}", k.fake.calls());
    k.announcement_edit("recovering").await;
    // A second declare gets its channel and announcement within a few seconds.
    let started = std::time::Instant::now();
    let text = ephemeral(
        &k.say(ONCALL, GENERAL, "/inc declare sev3 Search is slow")
            .await,
    );
    assert!(!text.starts_with("⚠️"), "{text}");
    let second = k
        .fake
        .until_for(Duration::from_secs(5), |f| {
            f.channels()
                .iter()
                .any(|c| c.name.ends_with("search-is-slow"))
                && f.calls_to("POST", &format!("/channels/{PAGING}/messages"))
                    .iter()
                    .any(|b| b.to_string().contains("Search is slow"))
        })
        .await;
    assert!(second, "{:#?}", k.fake.calls());
    assert!(started.elapsed() < Duration::from_secs(5));
    // Once Discord's window has passed, the latest topic (and only it) is set.
    k.fake.advance(Duration::from_secs(601));
    let latest = k
        .fake
        .until_for(Duration::from_secs(40), |f| {
            f.channel(&first)
                .and_then(|c| c.topic)
                .is_some_and(|t| t.contains("SEV1 · recovering"))
        })
        .await;
    assert!(latest, "{:?}", k.fake.channel(&first));
    assert_eq!(topic_edits(&k), 3, "the superseded topics were never sent");
    let _ = k.stop().await;
}

#[tokio::test]
async fn fifty_five_incidents_in_one_guild_all_get_channels() {
    let k = spawn(Discord, Options::default()).await;
    k.fake.set_topic_bucket(true);
    for n in 1..=55 {
        let text = ephemeral(
            &k.say(
                ONCALL,
                GENERAL,
                &format!("/inc declare sev3 Outage number {n}"),
            )
            .await,
        );
        assert!(!text.starts_with("⚠️"), "{n}: {text}");
    }
    let incident_channels = |k: &Bot<FakeDiscord>| {
        k.fake
            .channels()
            .iter()
            .filter(|c| c.kind == 0 && c.name.contains("outage-number-"))
            .count()
    };
    let all = k
        .fake
        .until_for(Duration::from_secs(60), |_| incident_channels(&k) == 55)
        .await;
    assert!(all, "{} channels", incident_channels(&k));
    assert_eq!(
        children(&k, CATEGORY),
        50,
        "the configured category is full"
    );
    let overflow = k
        .fake
        .channels()
        .into_iter()
        .find(|c| c.kind == 4 && c.name == "Incidents 2")
        .expect("an overflow category");
    assert_eq!(children(&k, &overflow.id), 5);
    assert_eq!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .len(),
        56,
        "55 channels and one category, none refused"
    );
    let _ = k.stop().await;
}

#[tokio::test]
async fn a_gateway_closed_for_a_privileged_intent_leaves_klaxon_not_ready_with_the_fix_named() {
    let fake = klaxon_tests::fake_discord::FakeDiscord::start().await;
    fake.set_privileged_intents(false);
    let mut config = klaxon_tests::spawn::discord::config("");
    config.discord.capture_emoji = Some("📌".into());
    // Ready once its endpoints answer: the gateway never says READY here.
    let k = spawn(
        Discord,
        Options::default().fake(fake).config(config).started_only(),
    )
    .await;
    assert!(
        k.fake.until(|f| f.closes() == [4014]).await,
        "no IDENTIFY refused"
    );
    let ready = reqwest::get(format!("{}/readyz", k.url))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 503);
    assert!(
        ready
            .text()
            .await
            .unwrap_or_default()
            .contains("Discord gateway not connected")
    );
    k.stop().await;
}
