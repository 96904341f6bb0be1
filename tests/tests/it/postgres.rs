//! The private PostgreSQL cluster the PostgreSQL tests run on (issue #16): it starts without
//! anything installed by hand (scripts/test installs Debian's package), listens on 127.0.0.1
//! only, is new enough for Klaxon (13 or later) and is gone when the test ends.

use klaxon_tests::postgres::Postgres;
use sqlx::Connection as _;

#[tokio::test]
async fn a_private_cluster_starts_on_loopback_and_stops_when_dropped() {
    let pg = tokio::task::spawn_blocking(Postgres::start)
        .await
        .expect("join")
        .expect("a private PostgreSQL cluster starts");
    let url = pg
        .database("klaxon_probe")
        .await
        .expect("create a database");
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut conn)
        .await
        .expect("version");
    let version: u32 = version.parse().expect("a number");
    assert!(version >= 130_000, "PostgreSQL 13 or newer, got {version}");
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .expect("listen_addresses");
    assert_eq!(listen, "127.0.0.1");
    conn.close().await.expect("close");
    drop(tokio::task::spawn_blocking(move || drop(pg)).await);
    assert!(
        sqlx::PgConnection::connect(&url).await.is_err(),
        "the cluster stopped with its test"
    );
}
