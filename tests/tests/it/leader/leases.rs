//! The lease row, driven directly on both backends: two owners, one wins; renewing keeps it;
//! expiry hands it over; release frees it at once; an expired lease is nobody's.

use std::time::Duration;

use klaxon::clock::after;
use klaxon::store::{Store, leases};

const LEASE: &str = "discord-gateway";

async fn take(store: &Store, owner: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    let mut tx = store.begin().await.expect("begin");
    let held = leases::take(
        &mut tx,
        LEASE,
        owner,
        now,
        after(now, Duration::from_secs(10)),
    )
    .await
    .expect("take");
    tx.commit().await.expect("commit");
    held
}

async fn holder(store: &Store, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let mut conn = store.read().await.expect("conn");
    leases::holder(&mut conn, LEASE, now)
        .await
        .expect("holder")
        .map(|h| h.owner)
}

#[tokio::test]
async fn one_owner_at_a_time_renewed_handed_over_on_expiry_and_released() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = klaxon_tests::database::at(dir.path(), "k.db").await;
    let store = Store::open(&db).await.expect("store");
    let t0 = klaxon_tests::start_time();
    let at = |secs: u64| after(t0, Duration::from_secs(secs));

    assert_eq!(holder(&store, t0).await, None, "nobody holds it at first");
    assert!(take(&store, "a", t0).await, "a free lease is taken");
    assert!(
        !take(&store, "b", at(1)).await,
        "held by a: b does not get it"
    );
    assert_eq!(holder(&store, at(1)).await.as_deref(), Some("a"));

    // a renews at 8 s, until 18 s: b still does not get it at 12 s, after the first expiry.
    assert!(take(&store, "a", at(8)).await, "the holder renews");
    assert!(!take(&store, "b", at(12)).await, "renewed: still a's");
    assert_eq!(holder(&store, at(17)).await.as_deref(), Some("a"));

    // a stops renewing: at 18 s the lease is nobody's, and b takes it.
    assert_eq!(holder(&store, at(18)).await, None, "expired");
    assert!(take(&store, "b", at(18)).await, "an expired lease is taken");
    assert!(!take(&store, "a", at(19)).await, "a lost it");
    assert_eq!(holder(&store, at(19)).await.as_deref(), Some("b"));

    // A release by someone else changes nothing; b's own frees it at once.
    let mut tx = store.begin().await.expect("begin");
    assert!(!leases::release(&mut tx, LEASE, "a").await.expect("release"));
    assert!(leases::release(&mut tx, LEASE, "b").await.expect("release"));
    tx.commit().await.expect("commit");
    assert_eq!(holder(&store, at(20)).await, None, "released");
    assert!(
        take(&store, "a", at(20)).await,
        "a released lease is taken at once"
    );
    store.close().await;
}

#[tokio::test]
async fn two_owners_taking_at_once_one_wins() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = klaxon_tests::database::at(dir.path(), "k.db").await;
    let (a, b) = (
        Store::open(&db).await.expect("store"),
        Store::open(&db).await.expect("store"),
    );
    let now = klaxon_tests::start_time();
    for round in 0..10u64 {
        let now = after(now, Duration::from_secs(60 * round));
        let (won_a, won_b) = tokio::join!(take(&a, "a", now), take(&b, "b", now));
        assert!(
            won_a ^ won_b,
            "round {round}: exactly one wins ({won_a}, {won_b})"
        );
        let winner = if won_a { "a" } else { "b" };
        assert_eq!(holder(&a, now).await.as_deref(), Some(winner));
    }
    a.close().await;
    b.close().await;
}
