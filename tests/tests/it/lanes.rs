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

/// Each incident's setup in its channel, in order, and the announcements in declaration order,
/// each made once.
fn assert_set_up_in_order(calls: &[Call], announced: &[String], channels: &[String]) {
    for (n, ch) in channels.iter().enumerate() {
        assert_eq!(
            in_channel(calls, ch),
            ["create", "post", "pin", "post"],
            "INC-{}: {calls:#?}",
            n + 1
        );
    }
    let heads: Vec<String> = announced
        .iter()
        .map(|p| p.lines().next().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (1..=channels.len())
        .map(|n| format!("🟡 SEV3 · INC-{n} · Outage {n}"))
        .collect();
    assert_eq!(heads, expected);
}

#[tokio::test]
async fn a_backlog_is_read_once_not_again_for_every_call_that_queues_another() {
    let bot = TestBot::start().await;
    let incidents = 100;
    for n in 1..=incidents {
        bot.ok("a", "general", &format!("/inc declare sev3 Outage {n}"))
            .await;
    }
    let queued = {
        let mut conn = bot.store().read().await.expect("conn");
        klaxon::store::outbox::pending_count(&mut conn)
            .await
            .expect("count")
    };
    // The first channels are slow to come (their creation hangs, times out and is made
    // again): their announcements go out before them, and each queues an edit that names the
    // channel once it exists.
    for n in 1..=30 {
        bot.api
            .hang_create_of(&format!("inc-2026-11-23-outage-{n}"));
    }
    let d = dispatcher(&bot, Duration::from_millis(300));
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(Arc::clone(&d).run(stop.clone(), Duration::from_secs(5)));
    assert!(
        klaxon_tests::wait::eventually(Duration::from_secs(60), async || {
            let mut conn = bot.store().read().await.expect("conn");
            klaxon::store::outbox::pending_count(&mut conn)
                .await
                .expect("count")
                == 0
        })
        .await,
        "every call is made"
    );
    stop.cancel();
    running.await.expect("dispatcher");
    let calls = bot.api.calls();
    let mut channels = Vec::new();
    for n in 1..=incidents {
        channels.push(bot.channel_of(n).await);
    }
    assert_set_up_in_order(&calls, &bot.api.posts_in("incidents"), &channels);
    let edits = bot.api.edits_in("incidents").len();
    assert!(edits > 0, "announcements made before their channel");
    // The calls the edits are are read as they are queued; the backlog is not read again
    // for each of them (that read about `queued` calls per edit).
    let made = u64::try_from(calls.len()).expect("count");
    let queued = u64::try_from(queued).expect("count");
    if bot.store().backend() == klaxon::store::Backend::Sqlite {
        assert!(
            d.calls_read() < 2 * made,
            "{} calls read for {made} made ({queued} queued by the declares, {edits} edits)",
            d.calls_read()
        );
    }
}

/// `incidents` declared, their calls made by a dispatcher that reads at most `limit` at once.
/// Returns, on SQLite, how many calls it read, and how many it made.
async fn past_one_read(incidents: i64, limit: i64) -> Option<(u64, u64)> {
    let bot = TestBot::start().await;
    for n in 1..=incidents {
        bot.ok("a", "general", &format!("/inc declare sev3 Outage {n}"))
            .await;
    }
    let d = Dispatcher::new(
        bot.store().clone(),
        BTreeMap::from([(PlatformKind::Console, bot.api.clone() as Arc<dyn ChatApi>)]),
        Arc::new(Notify::new()),
    )
    .with_read_limit(limit);
    // One pass makes them all: nothing is postponed, each lane reads on as it runs dry.
    assert_eq!(d.drain().await.expect("drain"), None);
    let mut conn = bot.store().read().await.expect("conn");
    let left = klaxon::store::outbox::pending_count(&mut conn)
        .await
        .expect("count");
    assert_eq!(left, 0, "{:#?}", bot.api.calls());
    let calls = bot.api.calls();
    let mut channels = Vec::new();
    for n in 1..=incidents {
        channels.push(bot.channel_of(n).await);
    }
    assert_set_up_in_order(&calls, &bot.api.posts_in("incidents"), &channels);
    if bot.store().backend() != klaxon::store::Backend::Sqlite {
        return None;
    }
    // On SQLite the table is read whole once: what that read left out is read on.
    assert_eq!(d.whole_reads(), 1, "whole reads");
    Some((d.calls_read(), u64::try_from(calls.len()).expect("count")))
}

#[tokio::test]
async fn a_backlog_past_one_read_is_made_in_each_lanes_order() {
    // Every incident's first calls fit in a read, their later ones do not: the incidents'
    // lanes read on where the read stopped, the paging channel's announcements are cut.
    past_one_read(10, 25).await;
}

#[tokio::test]
async fn more_incidents_than_one_read_takes_are_made_in_each_lanes_order() {
    // Not even every incident's first call fits: those left out come with later reads.
    past_one_read(30, 25).await;
}

#[tokio::test]
async fn incidents_left_out_of_a_read_are_read_on_not_read_again_whole() {
    // Six reads' worth of incidents, and of announcements: on SQLite the incidents left out
    // are read a page at a time, and each lane reads on where its read stopped. Reading the
    // table whole again whenever a lane ran dry read each call many times over.
    // (On PostgreSQL, whose replicas may commit ids out of order, every read is whole.)
    if let Some((read, made)) = past_one_read(60, 10).await {
        assert!(read < made + made / 2, "{read} calls read for {made} made");
    }
}
