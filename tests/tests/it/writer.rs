//! The one writer (`klaxon::store::writer`): group commit with each member in its own
//! savepoint, answers only after the COMMIT, a failed COMMIT failing its whole batch, leases
//! that vanish, many writers at once, reads beside an open write, and the refusals (a nested
//! write, an in-memory database, a full queue).

use std::time::Duration;

use klaxon::store::{Store, Write};

/// A fresh database with a scratch table `t(n INTEGER PRIMARY KEY)`.
async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path().join("w.db").to_str().expect("utf-8"))
        .await
        .expect("open");
    let mut tx = store.begin().await.expect("begin");
    sqlx::query("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        .execute(&mut *tx)
        .await
        .expect("create");
    tx.commit().await.expect("commit");
    (dir, store)
}

async fn insert(tx: &mut Write, n: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO t (n) VALUES ($1)")
        .bind(n)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// The rows of `t`, read from a read-only connection: what is committed.
async fn rows(store: &Store) -> Vec<i64> {
    let mut conn = store.read().await.expect("read");
    sqlx::query_scalar("SELECT n FROM t ORDER BY n")
        .fetch_all(&mut *conn)
        .await
        .expect("select")
}

/// Waits (up to 10 s) until `k` write transactions wait for the writer.
async fn until_waiting(store: &Store, k: usize) {
    let waited = klaxon_tests::wait::until(Duration::from_secs(10), || store.waiting() == k).await;
    assert!(waited, "{} waiting, not {k}", store.waiting());
}

/// Writes arriving while a transaction runs are committed together in the next one, each in
/// its own savepoint: the one that fails is rolled back alone and told so, the others are
/// committed and answered.
#[tokio::test]
async fn group_commit_rolls_back_only_the_failing_member() {
    let (_dir, store) = store().await;
    let mut first = store.begin().await.expect("begin");
    insert(&mut first, 1).await.expect("insert");
    let member = |ns: &'static [i64]| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await?;
            for &n in ns {
                insert(&mut tx, n).await?;
            }
            tx.commit().await
        })
    };
    // Three writes queue behind the open one; the third inserts 100, then a duplicate of 1.
    let second = member(&[2]);
    until_waiting(&store, 1).await;
    let third = member(&[3]);
    until_waiting(&store, 2).await;
    let failing = member(&[100, 1]);
    until_waiting(&store, 3).await;
    let before = store.commits();
    first.commit().await.expect("the first commits");
    second.await.expect("join").expect("the second commits");
    third.await.expect("join").expect("the third commits");
    let failed = failing.await.expect("join");
    assert!(failed.is_err(), "the duplicate fails: {failed:?}");
    assert_eq!(
        rows(&store).await,
        [1, 2, 3],
        "the failing member left nothing"
    );
    assert_eq!(store.commits() - before, 1, "four writes, one COMMIT");
}

/// A commit returns only once its batch is committed: until then a reader does not see the
/// row, and the commit has not returned.
#[tokio::test]
async fn a_commit_returns_only_after_the_batch_is_committed() {
    let (_dir, store) = store().await;
    let mut first = store.begin().await.expect("begin");
    insert(&mut first, 1).await.expect("insert");
    let (leased, lease) = tokio::sync::oneshot::channel();
    let (go, went) = tokio::sync::oneshot::channel::<()>();
    let second = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await?;
            insert(&mut tx, 2).await?;
            let _ = leased.send(());
            let _ = went.await;
            tx.commit().await
        })
    };
    until_waiting(&store, 1).await;
    // The first hands its connection back; the second, queued, joins the same batch.
    let first = tokio::spawn(first.commit());
    lease.await.expect("the second holds the lease");
    // The writer cannot commit while the second holds the connection.
    assert!(!first.is_finished(), "answered before its commit");
    assert_eq!(
        rows(&store).await,
        Vec::<i64>::new(),
        "nothing committed yet"
    );
    go.send(()).expect("go");
    first.await.expect("join").expect("the first commits");
    assert_eq!(rows(&store).await, [1, 2], "visible once answered");
    second.await.expect("join").expect("the second commits");
}

/// A lease dropped without commit, or lost with a task aborted in the middle of a query, is
/// rolled back, and the writer goes on with the next.
#[tokio::test]
async fn a_dropped_or_cancelled_lease_rolls_back_and_the_writer_goes_on() {
    let (_dir, store) = store().await;
    let mut dropped = store.begin().await.expect("begin");
    insert(&mut dropped, 1).await.expect("insert");
    drop(dropped);

    let (leased, lease) = tokio::sync::oneshot::channel();
    let aborted = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.expect("begin");
            insert(&mut tx, 2).await.expect("insert");
            let _ = leased.send(());
            // Long enough to be cut off in the middle.
            let _: i64 = sqlx::query_scalar(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
                 SELECT count(*) FROM c",
            )
            .fetch_one(&mut *tx)
            .await
            .expect("count");
            tx.commit().await.expect("commit");
        })
    };
    lease.await.expect("leased");
    aborted.abort();
    assert!(aborted.await.is_err_and(|e| e.is_cancelled()));

    let mut next = store.begin().await.expect("the writer goes on");
    insert(&mut next, 3).await.expect("insert");
    next.commit().await.expect("commit");
    assert_eq!(rows(&store).await, [3]);
}

/// Fifty writers at once all commit, each answered.
#[tokio::test]
async fn fifty_concurrent_writes_all_commit() {
    let (_dir, store) = store().await;
    let before = store.commits();
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                insert(&mut tx, n).await?;
                tx.commit().await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("join").expect("commit");
    }
    assert_eq!(rows(&store).await, (0..50).collect::<Vec<i64>>());
    let batches = store.commits() - before;
    assert!((1..=50).contains(&batches), "{batches} commits");
}

/// A reader does not wait for an open write transaction: it sees what was committed before.
#[tokio::test]
async fn reads_go_on_while_a_write_is_open() {
    let (_dir, store) = store().await;
    let mut tx = store.begin().await.expect("begin");
    insert(&mut tx, 1).await.expect("insert");
    let read = tokio::time::timeout(Duration::from_secs(5), rows(&store))
        .await
        .expect("the read did not wait for the writer");
    assert_eq!(read, Vec::<i64>::new());
    tx.commit().await.expect("commit");
    assert_eq!(rows(&store).await, [1]);
}

/// A second `begin` while holding the lease would wait for itself forever: it fails once the
/// lease wait is over, saying why, and the first goes on.
#[tokio::test]
async fn a_nested_write_fails_instead_of_waiting_forever() {
    let (_dir, store) = store().await;
    let store = store.with_lease_wait(Duration::from_millis(300));
    let mut tx = store.begin().await.expect("begin");
    insert(&mut tx, 1).await.expect("insert");
    let e = store.begin().await.expect_err("refused");
    assert!(format!("{e:#}").contains("waits for itself"), "{e:#}");
    tx.commit().await.expect("the first commits");
    assert_eq!(rows(&store).await, [1]);
}

/// An in-memory database cannot be shared by the writer and the readers: refused at open.
#[tokio::test]
async fn an_in_memory_database_is_refused() {
    for db in ["sqlite::memory:", ":memory:", "sqlite://x.db?mode=memory"] {
        let e = Store::open(db).await.expect_err(db);
        assert!(format!("{e:#}").contains("in-memory"), "{e:#}");
    }
}

/// The writer's queue is bounded: past it, a write is refused at once with a clear error.
#[tokio::test]
async fn a_full_queue_refuses_writes() {
    let (_dir, store) = store().await;
    let held = store.begin().await.expect("begin");
    let queue = 1024;
    let waiting: Vec<_> = (0..queue)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.begin().await.map(drop) })
        })
        .collect();
    until_waiting(&store, queue).await;
    let e = store.begin().await.expect_err("refused");
    assert!(format!("{e:#}").contains("overloaded"), "{e:#}");
    drop(held);
    for task in waiting {
        task.await.expect("join").expect("served in turn");
    }
}

/// A COMMIT that fails (here a deferred foreign key, checked only at COMMIT) fails the whole
/// batch: every member is told, none is answered as done, nothing of any of them is kept, the
/// failure is counted, and the writer goes on with the next batch.
#[tokio::test]
async fn a_failed_commit_fails_every_member_of_its_batch_and_the_writer_goes_on() {
    let (_dir, store) = store().await;
    let mut tx = store.begin().await.expect("begin");
    sqlx::query(
        "CREATE TABLE c (n INTEGER PRIMARY KEY REFERENCES t (n) DEFERRABLE INITIALLY DEFERRED)",
    )
    .execute(&mut *tx)
    .await
    .expect("create");
    tx.commit().await.expect("commit");

    let mut first = store.begin().await.expect("begin");
    insert(&mut first, 1).await.expect("insert");
    let breaking = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await?;
            // Refers to a row of `t` that never exists: fine until the COMMIT.
            sqlx::query("INSERT INTO c (n) VALUES (99)")
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    };
    until_waiting(&store, 1).await;
    let before = (store.commits(), store.commit_failures());
    let first = first.commit().await;
    let breaking = breaking.await.expect("join");
    assert!(first.is_err(), "the first member is told: {first:?}");
    assert!(
        breaking.is_err(),
        "the breaking member is told: {breaking:?}"
    );
    assert_eq!(rows(&store).await, Vec::<i64>::new(), "nothing kept");
    assert_eq!(
        (store.commits(), store.commit_failures()),
        (before.0, before.1 + 1),
        "one failed COMMIT, counted"
    );
    // The next write is a batch of its own, and commits.
    let mut next = store.begin().await.expect("begin");
    insert(&mut next, 2).await.expect("insert");
    next.commit().await.expect("the next commits");
    assert_eq!(rows(&store).await, [2]);
}
