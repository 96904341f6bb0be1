//! The Discord gateway on one leader at a time: the replica that started first leads and
//! connects, the other is ready as a follower (both say so on `/readyz` and `/metrics`); the
//! leader's kill -9 moves the gateway to the survivor within 15 s; a clean stop hands it over
//! at once (the lease is released, not left to expire).

use std::time::{Duration, Instant};

use klaxon_tests::fake_discord::FakeDiscord;
use klaxon_tests::process::{Process, discord_env};
use klaxon_tests::wait::eventually;

use super::{Database, Replica, leader_line, metrics, process_folder, readyz, settings};

/// How soon a survivor must take the gateway over after the leader died.
const TAKEOVER: Duration = Duration::from_secs(15);

/// The fake's gateway sessions so far (IDENTIFYs).
fn identifies(fake: &FakeDiscord) -> u32 {
    fake.sessions().0
}

/// Waits until `/readyz` at `url` is 200 and says `role` for the gateway.
async fn ready_as(url: &str, role: &str) -> bool {
    let line = format!("discord-gateway: {role}\n");
    eventually(Duration::from_secs(10), async || {
        let (status, text) = readyz(url).await;
        status == 200 && text.contains(&line)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_moves_to_the_survivor_within_15_s_of_the_leaders_kill_9() {
    let (bin, dir) = process_folder().await;
    let db = Database::new(dir.path()).await;
    let fake = FakeDiscord::start().await;

    // The first replica, a process, takes the lease and connects.
    let mut env = discord_env(&fake);
    env.push(("KLAXON_DATABASE_URL", db.url.clone()));
    let mut first = Process::start(&bin, dir.path(), &env);
    assert!(first.ready(&reqwest::Client::new()).await, "never ready");
    assert!(fake.until(FakeDiscord::connected).await, "gateway");
    assert!(
        ready_as(&first.url, "leader").await,
        "{:?}",
        readyz(&first.url).await
    );

    // The second is ready without the gateway: a follower, not connected.
    let second = Replica::start(
        &db.url,
        settings(&fake, "replica-b", Duration::from_secs(5)),
    )
    .await;
    assert!(
        ready_as(&second.url, "follower").await,
        "{:?}",
        readyz(&second.url).await
    );
    assert!(
        metrics(&second.url)
            .await
            .contains(&leader_line("replica-b", 0))
    );
    assert_eq!(identifies(&fake), 1, "only the leader connected");

    first.kill_9();
    let killed = Instant::now();
    assert!(
        fake.until_for(TAKEOVER, |f| identifies(f) == 2 && f.connected())
            .await,
        "the survivor never connected: sessions {:?}",
        fake.sessions()
    );
    let took = killed.elapsed();
    assert!(took < TAKEOVER, "took {took:?}");
    assert!(
        ready_as(&second.url, "leader").await,
        "{:?}",
        readyz(&second.url).await
    );
    let text = metrics(&second.url).await;
    assert!(text.contains(&leader_line("replica-b", 1)), "{text}");
    assert!(
        text.contains("klaxon_replica_info{replica=\"replica-b\"} 1"),
        "{text}"
    );

    second.stop().await;
    assert!(
        fake.until(|f| !f.connected()).await,
        "the gateway closes at stop"
    );
    db.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_hands_the_gateway_over_without_waiting_for_the_lease_to_expire() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = Database::new(dir.path()).await;
    let fake = FakeDiscord::start().await;
    let poll = Duration::from_secs(5);
    let a = Replica::start(&db.url, settings(&fake, "replica-a", poll)).await;
    assert!(fake.until(FakeDiscord::connected).await, "gateway");
    assert!(ready_as(&a.url, "leader").await);
    let b = Replica::start(&db.url, settings(&fake, "replica-b", poll)).await;
    assert!(ready_as(&b.url, "follower").await);
    let text = metrics(&a.url).await;
    assert!(text.contains(&leader_line("replica-a", 1)), "{text}");

    let stopped = Instant::now();
    a.stop().await;
    // Released: the follower takes it at its next try (every 3 s), not after the 10 s lease.
    assert!(
        fake.until_for(Duration::from_secs(8), |f| identifies(f) == 2
            && f.connected())
            .await,
        "sessions {:?}",
        fake.sessions()
    );
    assert!(stopped.elapsed() < Duration::from_secs(8));
    assert!(ready_as(&b.url, "leader").await);
    b.stop().await;
    db.stop().await;
}

#[tokio::test]
async fn alone_a_replica_leads_and_says_so_on_readyz_and_metrics() {
    let k = klaxon_tests::spawn::spawn(
        klaxon_tests::spawn::Discord,
        klaxon_tests::spawn::Options::default(),
    )
    .await;
    let id = klaxon::replica::id();
    let (status, text) = readyz(&k.url).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("ready\n"), "{text}");
    assert!(text.contains(&format!("replica: {id}\n")), "{text}");
    assert!(text.contains("discord-gateway: leader\n"), "{text}");
    assert!(text.contains("calls in flight: "), "{text}");
    // Lanes are claimed, and counted, only by replicas on PostgreSQL.
    let pg = klaxon_tests::database::on_postgres();
    assert_eq!(text.contains("lanes held: 0\n"), pg, "{text}");
    let text = metrics(&k.url).await;
    assert_eq!(
        text.contains(&format!("klaxon_lanes_held{{replica=\"{id}\"}} 0")),
        pg,
        "{text}"
    );
    assert!(text.contains(&leader_line(id, 1)), "{text}");
    assert!(
        text.contains(&format!("klaxon_calls_in_flight{{replica=\"{id}\"}} ")),
        "{text}"
    );
    k.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_away_disconnects_and_reconnects_once_it_is_free() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = Database::new(dir.path()).await;
    let fake = FakeDiscord::start().await;
    let a = Replica::start(
        &db.url,
        settings(&fake, "replica-a", Duration::from_secs(5)),
    )
    .await;
    assert!(fake.until(FakeDiscord::connected).await, "gateway");
    assert!(ready_as(&a.url, "leader").await);

    // Another owner holds the lease now (as if A's renewals had stopped reaching the
    // database and someone took over): A's next renewal fails and it lets the gateway go.
    let store = klaxon::store::Store::open(&db.url).await.expect("store");
    let now = chrono::Utc::now();
    let mut tx = store.begin().await.expect("begin");
    sqlx::query("UPDATE leases SET owner = 'elsewhere', expires_at = $1 WHERE name = $2")
        .bind(klaxon::clock::to_db(now + chrono::Duration::hours(1)))
        .bind(klaxon::leader::DISCORD_GATEWAY)
        .execute(&mut *tx)
        .await
        .expect("take it away");
    tx.commit().await.expect("commit");
    assert!(
        fake.until(|f| !f.connected()).await,
        "the gateway stays on a replica that lost its lease"
    );
    assert!(
        ready_as(&a.url, "follower").await,
        "{:?}",
        readyz(&a.url).await
    );
    assert!(metrics(&a.url).await.contains(&leader_line("replica-a", 0)));

    // Freed: A takes it again at its next try and connects again.
    let mut tx = store.begin().await.expect("begin");
    assert!(
        klaxon::store::leases::release(&mut tx, klaxon::leader::DISCORD_GATEWAY, "elsewhere")
            .await
            .expect("release")
    );
    tx.commit().await.expect("commit");
    assert!(
        fake.until(|f| identifies(f) == 2 && f.connected()).await,
        "sessions {:?}",
        fake.sessions()
    );
    assert!(ready_as(&a.url, "leader").await);
    store.close().await;
    a.stop().await;
    db.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_database_lets_the_gateway_go_and_leads_again_when_it_is_back() {
    let db = Database::private().await;
    let fake = FakeDiscord::start().await;
    let a = Replica::start(
        &db.url,
        settings(&fake, "replica-a", Duration::from_secs(5)),
    )
    .await;
    assert!(fake.until(FakeDiscord::connected).await, "gateway");
    assert!(ready_as(&a.url, "leader").await);
    let cluster = db.cluster.as_ref().expect("a private cluster");

    // The database goes away: no renewal succeeds, and another replica could take the lease
    // over once it expires (10 s after the last renewal). A steps down before that.
    let halted = Instant::now();
    cluster.halt().expect("halt");
    assert!(
        fake.until_for(Duration::from_secs(10), |f| !f.connected())
            .await,
        "still connected {:?} after the database went away",
        halted.elapsed()
    );
    let let_go = halted.elapsed();
    assert!(let_go < Duration::from_secs(10), "let go after {let_go:?}");

    // Back: A's writes work again (a new connection), it takes the lease and connects.
    cluster.resume().expect("resume");
    assert!(
        fake.until_for(Duration::from_secs(20), |f| identifies(f) == 2
            && f.connected())
            .await,
        "sessions {:?}",
        fake.sessions()
    );
    assert!(
        ready_as(&a.url, "leader").await,
        "{:?}",
        readyz(&a.url).await
    );
    a.stop().await;
    db.stop().await;
}
