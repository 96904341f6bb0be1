//! The outbox's lanes: each incident's calls in order, lanes independent of each other, a hung
//! call that times out holding only its own lane, and an announcement that does not wait for
//! a channel that is slow to come.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon::outbox::Dispatcher;
use klaxon_commands::{ChatApi, PlatformKind};
use klaxon_tests::{Call, TestBot};
use tokio::sync::Notify;

/// A dispatcher of its own on the bot's database and recording platform, with a short call
/// timeout, running in the background.
fn dispatcher(bot: &TestBot, timeout: Duration) -> Arc<Dispatcher> {
    let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    apis.insert(PlatformKind::Console, bot.api.clone());
    Arc::new(
        Dispatcher::new(bot.store().clone(), apis, Arc::new(Notify::new()))
            .with_call_timeout(timeout),
    )
}

/// Waits at most 20 seconds: a stalled lane is what these tests look for.
async fn eventually(check: impl FnMut() -> bool) -> bool {
    klaxon_tests::wait::until(Duration::from_secs(20), check).await
}

/// The calls made in one channel, by kind, in order.
fn in_channel(calls: &[Call], ch: &str) -> Vec<&'static str> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Create { name, .. } if name == ch => Some("create"),
            Call::Post { channel, .. } if channel == ch => Some("post"),
            Call::Pin { channel, .. } if channel == ch => Some("pin"),
            Call::Edit { channel, .. } if channel == ch => Some("edit"),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_hung_call_times_out_holding_only_its_own_incident() {
    let bot = TestBot::start().await;
    let first = "inc-2026-11-23-first";
    bot.api.hang_create_of(first);
    for title in ["first", "second", "third"] {
        bot.ok("a", "general", &format!("/inc declare sev2 {title}"))
            .await;
    }
    let d = dispatcher(&bot, Duration::from_secs(3));
    let drain = tokio::spawn({
        let d = Arc::clone(&d);
        async move { d.drain().await }
    });
    // The other incidents are set up while the first one's channel call hangs.
    let others = ["inc-2026-11-23-second", "inc-2026-11-23-third"];
    assert!(
        eventually(|| {
            let calls = bot.api.calls();
            others
                .iter()
                .all(|ch| in_channel(&calls, ch) == ["create", "post", "pin", "post"])
        })
        .await,
        "{:#?}",
        bot.api.calls()
    );
    assert!(!drain.is_finished(), "the hung call is still in flight");
    assert!(!bot.api.created().contains(&first.to_owned()));
    // The announcements go out in the order of the declares, the first one without waiting
    // for its channel for good.
    assert!(eventually(|| bot.api.posts_in("incidents").len() == 3).await);
    let announced = bot.api.posts_in("incidents");
    for (n, title) in ["first", "second", "third"].iter().enumerate() {
        assert!(announced[n].contains(title), "{announced:?}");
    }
    // The hung call times out and is postponed; nothing else is left.
    drain
        .await
        .expect("drain task")
        .expect("drain")
        .expect("the timed-out call is due again");
    // It falls due after its backoff, on real time: drained until it is made.
    assert!(
        klaxon_tests::wait::eventually(Duration::from_secs(30), async || {
            d.drain().await.expect("drain");
            bot.api.created().contains(&first.to_owned())
        })
        .await,
        "the timed-out channel creation is made again"
    );
    let calls = bot.api.calls();
    assert_eq!(
        in_channel(&calls, first),
        ["create", "post", "pin", "post"],
        "{calls:#?}"
    );
    // Its announcement named the channel before it existed: an edit names it now.
    let edits = bot.api.edits_in("incidents");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert!(edits[0].contains("first"), "{edits:?}");
    let mut conn = bot.store().read().await.expect("conn");
    assert_eq!(
        klaxon::store::outbox::pending_count(&mut conn)
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn each_lane_keeps_its_order_and_no_lane_waits_for_another() {
    let bot = TestBot::start().await;
    for n in 1..=20 {
        bot.ok("a", "general", &format!("/inc declare sev3 Outage {n}"))
            .await;
    }
    bot.settle().await;
    let calls = bot.api.calls();
    for n in 1..=20 {
        let ch = bot.channel_of(n).await;
        assert_eq!(
            in_channel(&calls, &ch),
            ["create", "post", "pin", "post"],
            "INC-{n}: {calls:#?}"
        );
    }
    let announced: Vec<String> = bot
        .api
        .posts_in("incidents")
        .into_iter()
        .map(|p| p.lines().next().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (1..=20)
        .map(|n| format!("🟡 SEV3 · INC-{n} · Outage {n}"))
        .collect();
    assert_eq!(announced, expected);
    // Lanes interleave: the last incident's channel is not made after every other
    // incident's whole setup (calls of different incidents run side by side).
    let last_create = calls
        .iter()
        .position(|c| matches!(c, Call::Create { name, .. } if name.ends_with("outage-20")))
        .expect("created");
    let first_checklist = calls
        .iter()
        .rposition(|c| matches!(c, Call::Post { channel, .. } if channel.ends_with("outage-1")))
        .expect("checklist");
    assert!(
        last_create < calls.len() - 1 && first_checklist > 0,
        "{calls:#?}"
    );
}

#[tokio::test]
async fn paging_channel_posts_go_in_queue_order_past_an_older_incidents_backlog() {
    let bot = TestBot::start().await;
    bot.ok("a", "general", "/inc declare sev2 First").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    // More of INC-1's calls are pending than one read of the outbox takes of one incident,
    // and its page to the paging channel is queued after them, before the next declares.
    let backlog = klaxon::store::outbox::PER_INCIDENT + 4;
    for n in 1..=backlog {
        bot.ok("a", &ch, &format!("/inc note step {n}")).await;
    }
    bot.ok("a", &ch, "/inc escalate").await;
    for title in ["Second", "Third"] {
        bot.ok("a", "general", &format!("/inc declare sev2 {title}"))
            .await;
    }
    bot.settle().await;
    let paging: Vec<String> = bot
        .api
        .posts_in("incidents")
        .into_iter()
        .map(|p| p.lines().next().unwrap_or("").to_owned())
        .collect();
    assert_eq!(paging.len(), 4, "{paging:#?}");
    assert!(paging[0].contains("INC-1 · First"), "{paging:#?}");
    assert!(paging[1].starts_with("📟 INC-1 (SEV2)"), "{paging:#?}");
    assert!(paging[2].contains("INC-2 · Second"), "{paging:#?}");
    assert!(paging[3].contains("INC-3 · Third"), "{paging:#?}");
    // The backlog itself was made, in order, in INC-1's channel.
    let notes: Vec<String> = bot
        .api
        .posts_in(&ch)
        .into_iter()
        .filter(|p| p.contains("step "))
        .collect();
    assert_eq!(notes.len(), usize::try_from(backlog).expect("count"));
    for (n, note) in notes.iter().enumerate() {
        assert!(note.ends_with(&format!("step {}", n + 1)), "{notes:#?}");
    }
}
