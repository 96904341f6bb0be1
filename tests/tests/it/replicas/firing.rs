//! Reminders fired by two replicas at once: one at a time or in sets, each due time fires once,
//! whichever replica gets it.

use std::collections::BTreeSet;

use klaxon::clock::Clock as _;
use klaxon::config::Config;
use klaxon::scheduler::Fired;
use klaxon::store::{self, reminders::Kind};

use super::{Server, firings, replicas};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_firings_of_one_due_reminder_at_once_fire_it_once() {
    let server = Server::start().await;
    let db = server.database("firings").await;
    let config = Config::parse("checklist = []").expect("config");
    let (clock, _api, bots) = replicas(&db, &["a", "b"], &config).await;
    bots[0]
        .ok("alice", "general", "/inc declare sev1 Checkout errors")
        .await;
    bots[1]
        .ok("alice", "general", "/inc declare sev1 Login slow")
        .await;
    let (a, b) = (bots[0].store(), bots[1].store());
    let later = clock.now() + chrono::Duration::hours(2);
    // A's firing transaction holds the earliest due reminder: B's passes over it.
    let mut fire_a = a.begin().await.expect("begin a");
    let first = store::reminders::first_due(&mut fire_a, later, None)
        .await
        .expect("first due")
        .expect("a reminder is due");
    let mut fire_b = b.begin().await.expect("begin b");
    let other = store::reminders::first_due(&mut fire_b, later, None)
        .await
        .expect("first due")
        .expect("another reminder is due");
    assert_ne!(first.id, other.id, "B does not pick the row A is firing");
    assert!(
        store::reminders::claim(&mut fire_a, &first)
            .await
            .expect("claim")
    );
    store::reminders::fired(
        &mut fire_a,
        first.id,
        later,
        Some(later + chrono::Duration::minutes(15)),
    )
    .await
    .expect("fired");
    fire_a.commit().await.expect("commit a");
    drop(fire_b);
    // A firing that read the row before A's commit finds it moved on, and fires nothing.
    let mut late = b.begin().await.expect("begin b");
    assert!(
        !store::reminders::claim(&mut late, &first)
            .await
            .expect("claim")
    );
    drop(late);
    // Both schedulers at once, past every due time: each reminder fires once.
    clock.set(later);
    let (fired_a, fired_b) = tokio::join!(
        bots[0].app.scheduler.fire_due(),
        bots[1].app.scheduler.fire_due()
    );
    let fired: Vec<Fired> = fired_a
        .expect("fire a")
        .into_iter()
        .chain(fired_b.expect("fire b"))
        .collect();
    let once: BTreeSet<(i64, i64)> = fired.iter().map(|f| (f.incident_id, f.item)).collect();
    let kinds: BTreeSet<(i64, &str, i64)> = fired
        .iter()
        .map(|f| (f.incident_id, f.kind.as_str(), f.item))
        .collect();
    assert_eq!(
        kinds.len(),
        fired.len(),
        "fired twice: {:#?}",
        firings(&fired)
    );
    assert!(!once.is_empty());
    for bot in &bots {
        bot.store().close().await;
    }
    server.stop().await;
}

/// Two replicas firing status-update reminders as sets at once: each set locks its rows, so
/// the other replica's set passes over them; a set read before the other's commit claims
/// none of what it fired; and both schedulers at once fire each reminder once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sets_of_due_status_reminders_at_once_fire_each_once() {
    let server = Server::start().await;
    let db = server.database("sets").await;
    let config = Config::parse("checklist = []").expect("config");
    let (clock, _api, bots) = replicas(&db, &["a", "b"], &config).await;
    for i in 0..8 {
        bots[i % 2]
            .ok("alice", "general", &format!("/inc declare sev1 Burst {i}"))
            .await;
    }
    let (a, b) = (bots[0].store(), bots[1].store());
    let later = clock.now() + chrono::Duration::minutes(16);
    let mut fire_a = a.begin().await.expect("begin a");
    let set_a = store::reminders::due_set(&mut fire_a, Kind::StatusUpdate, later, 5)
        .await
        .expect("due set");
    let mut fire_b = b.begin().await.expect("begin b");
    let set_b = store::reminders::due_set(&mut fire_b, Kind::StatusUpdate, later, 5)
        .await
        .expect("due set");
    let ids = |set: &[store::reminders::Reminder]| -> BTreeSet<i64> {
        set.iter().map(|r| r.id).collect()
    };
    assert_eq!((set_a.len(), set_b.len()), (5, 3), "8 due, 5 locked by A");
    assert!(
        ids(&set_a).is_disjoint(&ids(&set_b)),
        "B passes over A's rows"
    );
    drop(fire_b);
    let claimed = store::reminders::claim_set(&mut fire_a, set_a.clone())
        .await
        .expect("claim");
    assert_eq!(claimed, set_a, "nothing moved them");
    let moved: Vec<i64> = claimed.iter().map(|r| r.id).collect();
    store::reminders::fired_set(
        &mut fire_a,
        &moved,
        later,
        Some(later + chrono::Duration::minutes(15)),
    )
    .await
    .expect("fired");
    fire_a.commit().await.expect("commit a");
    // A set read before A's commit finds them moved on: it claims none of them.
    let mut late = b.begin().await.expect("begin b");
    let none = store::reminders::claim_set(&mut late, set_a)
        .await
        .expect("claim");
    assert!(none.is_empty(), "{none:?}");
    drop(late);
    // Both schedulers at once, 20 minutes on: the three left fire once, and nothing else.
    clock.set(later + chrono::Duration::minutes(4));
    let (fired_a, fired_b) = tokio::join!(
        bots[0].app.scheduler.fire_due(),
        bots[1].app.scheduler.fire_due()
    );
    let fired: Vec<Fired> = fired_a
        .expect("fire a")
        .into_iter()
        .chain(fired_b.expect("fire b"))
        .filter(|f| f.kind == Kind::StatusUpdate)
        .collect();
    let once: BTreeSet<i64> = fired.iter().map(|f| f.incident_id).collect();
    assert_eq!(
        (once.len(), fired.len()),
        (3, 3),
        "fired twice or missed: {:#?}",
        firings(&fired)
    );
    for bot in &bots {
        bot.store().close().await;
    }
    server.stop().await;
}
