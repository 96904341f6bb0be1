//! The outbox: platform calls made after the reply, in order, retried, and never lost.

use std::time::Duration;

use klaxon_commands::ApiError;
use klaxon_tests::{Call, TestBot};

#[tokio::test]
async fn calls_wait_for_a_transient_failure_and_keep_their_order() {
    let bot = TestBot::start().await;
    // A wait longer than a settle takes on a loaded machine (the wait is real time), so the
    // first settle ends before the channel creation is tried again.
    bot.api.fail_next([ApiError::Transient {
        reason: "ratelimited".into(),
        retry_after: Some(Duration::from_secs(2)),
    }]);
    bot.ok("a", "general", "/inc declare sev1 x").await;
    bot.settle().await;
    // The channel creation was refused once; nothing after it in that incident's channel went
    // out. The announcement pages people, so it does not wait for the channel (issue #15).
    let calls = bot.api.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        matches!(&calls[0], Call::Post { channel, .. } if channel == "incidents"),
        "{calls:?}"
    );
    assert!(
        bot.settle_until(|api| !api.created().is_empty()).await,
        "the refused channel is created once its wait is over"
    );
    bot.settle().await;
    let calls = bot.api.calls();
    assert!(matches!(calls[1], Call::Create { .. }), "{calls:?}");
    assert_eq!(bot.api.created().len(), 1);
    assert_eq!(
        calls.len(),
        6,
        "announce, create, summary, pin, checklist, and the announcement's edit that names the channel: {calls:?}"
    );
    assert!(
        matches!(&calls[5], Call::Edit { channel, .. } if channel == "incidents"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_permanent_failure_is_not_retried_and_does_not_block_other_incidents() {
    let bot = TestBot::start().await;
    bot.api.fail_create_of(
        "inc-2026-11-23-first",
        ApiError::Permanent("missing_scope".into()),
    );
    bot.ok("a", "general", "/inc declare sev1 first").await;
    bot.ok("a", "general", "/inc declare sev1 second").await;
    bot.settle().await;
    // The first incident's channel failed for good, so its channel posts cannot be made; the
    // announcement still goes out, and so does everything for the second incident.
    assert_eq!(bot.api.created(), ["inc-2026-11-23-second"]);
    let announcements = bot.api.posts_in("incidents");
    assert_eq!(announcements.len(), 2, "{announcements:?}");
    let attempts = bot.api.attempts();
    bot.settle().await;
    assert_eq!(bot.api.attempts(), attempts, "nothing is retried");
}

#[tokio::test]
async fn a_restart_after_the_reply_still_makes_every_call() {
    let bot = TestBot::start().await;
    bot.ok("a", "general", "/inc declare sev2 Crash right after ack")
        .await;
    // The process dies before any platform call is made.
    let bot = bot.restart().await;
    assert!(bot.api.calls().is_empty());
    bot.settle().await;
    assert_eq!(bot.api.created(), ["inc-2026-11-23-crash-right-after-ack"]);
    assert_eq!(bot.api.posts_in("incidents").len(), 1);
}

#[tokio::test]
async fn a_burst_of_changes_is_one_edit() {
    let bot = TestBot::start().await;
    bot.ok("a", "general", "/inc declare sev3 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    for cmd in [
        "/inc sev 2",
        "/inc sev 1",
        "/inc lead @alice",
        "/inc status contained",
        "/inc ack",
    ] {
        bot.ok("a", &ch, cmd).await;
    }
    bot.settle().await;
    let edits = bot.api.edits_in("incidents");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert!(edits[0].starts_with("🔴 SEV1 · INC-1"), "{}", edits[0]);
    assert!(edits[0].contains("Status: contained"), "{}", edits[0]);
    let topics = bot
        .api
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Topic { .. }))
        .count();
    assert_eq!(topics, 1);
}

#[tokio::test]
async fn timeline_entries_get_the_message_they_were_posted_as() {
    let bot = TestBot::start().await;
    bot.ok("a", "general", "/inc declare sev3 x").await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("a", &ch, "/inc update first update").await;
    bot.settle().await;
    let mut conn = bot.store().read().await.expect("conn");
    let entries = klaxon::store::timeline::all(&mut conn, 1)
        .await
        .expect("timeline");
    let update = entries
        .iter()
        .find(|e| e.kind.word() == "update")
        .expect("update entry");
    let posted = bot.api.calls().into_iter().find_map(|c| match c {
        Call::Post { message, id, .. } if message.to_plain().contains("first update") => Some(id),
        _ => None,
    });
    assert_eq!(update.message_ref, posted);
}

#[tokio::test]
async fn announcements_keep_the_order_of_the_declares() {
    let bot = TestBot::start().await;
    for n in 1..=12 {
        bot.ok("a", "general", &format!("/inc declare sev3 Outage {n}"))
            .await;
    }
    bot.settle().await;
    let announced: Vec<String> = bot
        .api
        .posts_in("incidents")
        .into_iter()
        .map(|p| p.lines().next().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (1..=12)
        .map(|n| format!("🟡 SEV3 · INC-{n} · Outage {n}"))
        .collect();
    assert_eq!(announced, expected);
    // And every incident's own calls kept their order: its channel before anything in it.
    for n in 1..=12 {
        let ch = bot.channel_of(n).await;
        let first = bot
            .api
            .calls()
            .into_iter()
            .position(|c| matches!(&c, Call::Post { channel, .. } | Call::Pin { channel, .. } if *channel == ch));
        let created = bot
            .api
            .calls()
            .into_iter()
            .position(|c| matches!(&c, Call::Create { name, .. } if *name == ch));
        assert!(
            created < first,
            "INC-{n}: created {created:?}, first post {first:?}"
        );
    }
}

#[tokio::test]
async fn a_stored_call_that_does_not_decode_fails_alone_and_the_rest_go_on() {
    let bot = TestBot::start().await;
    // A call written by a newer Klaxon (an op this one does not know), queued before a declare.
    let mut tx = bot.store().begin().await.expect("write");
    sqlx::query(
        "INSERT INTO outbox (platform, workspace, incident_id, op, created_at) \
         VALUES ('console', 'local', NULL, '{\"op\":\"from_the_future\"}', '2026-11-23T10:00:00.000Z')",
    )
    .execute(&mut *tx)
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
    bot.ok("a", "general", "/inc declare sev2 Checkout down")
        .await;
    bot.settle().await;
    assert_eq!(bot.api.created().len(), 1, "{:#?}", bot.api.calls());
    assert_eq!(bot.api.posts_in("incidents").len(), 1);
    let mut conn = bot.store().read().await.expect("conn");
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, last_error FROM outbox WHERE op LIKE '%from_the_future%'")
            .fetch_one(&mut *conn)
            .await
            .expect("the row");
    assert_eq!(state, "failed");
    let error = error.unwrap_or_default();
    assert!(error.starts_with("unreadable call: "), "{error}");
    assert_eq!(
        klaxon::store::outbox::pending_count(&mut conn)
            .await
            .expect("count"),
        0
    );
}

/// A post is a retry (the adapter first looks for it: Slack reads the channel's history) only
/// when it may have been made before: an attempt of it failed, or it was queued before this
/// process opened the database. On SQLite nothing is written before a post to say so; on
/// PostgreSQL, where another replica may take it over, its start is committed first.
#[tokio::test]
async fn a_post_is_a_retry_only_when_it_may_have_been_made_before() {
    let bot = TestBot::start().await;
    bot.ok("a", "general", "/inc declare sev2 first").await;
    bot.settle().await;
    let firsts = bot.api.post_attempts();
    assert!(!firsts.is_empty());
    assert!(
        firsts.iter().all(|(_, retry)| !retry),
        "posts queued and made by this process are not retries: {firsts:?}"
    );
    let sqlite = bot.store().backend() == klaxon::store::Backend::Sqlite;
    let marked: i64 = {
        let mut conn = bot.store().read().await.expect("conn");
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE started_at IS NOT NULL")
            .fetch_one(&mut *conn)
            .await
            .expect("count")
    };
    assert_eq!(
        marked == 0,
        sqlite,
        "a start mark is written on PostgreSQL only"
    );
    // A post that failed once is a retry when it is tried again.
    let ch = bot.channel_of(1).await;
    bot.api.fail_next_post([ApiError::Transient {
        reason: "no answer".into(),
        retry_after: Some(Duration::from_millis(10)),
    }]);
    bot.ok("a", &ch, "/inc update looking at the cache").await;
    assert!(
        bot.settle_until(|api| api
            .posts_in(&ch)
            .iter()
            .any(|p| p.contains("looking at the cache")))
            .await
    );
    let tries: Vec<bool> = bot.api.post_attempts()[firsts.len()..]
        .iter()
        .map(|(_, retry)| *retry)
        .collect();
    assert_eq!(tries, [false, true], "the first try, then a retry");
    // Posts queued before a restart and never tried: on SQLite the new process cannot know
    // whether the old one started them, so they are retries; PostgreSQL knows (no start mark).
    bot.ok("a", "general", "/inc declare sev2 second").await;
    let before = bot.api.post_attempts().len();
    let bot = bot.restart().await;
    bot.settle().await;
    let after = bot.api.post_attempts();
    assert!(after.len() > before);
    assert!(
        after[before..].iter().all(|(_, retry)| *retry == sqlite),
        "{:?}",
        &after[before..]
    );
}
