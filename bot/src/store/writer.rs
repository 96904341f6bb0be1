//! The one writer: a task that owns the database's only write connection, and [`Write`], the
//! lease on it that every write transaction is.
//!
//! [`Store::begin`](super::Store::begin) queues a request. The writer opens a transaction
//! (`BEGIN IMMEDIATE`) for the first request it takes, then lends the connection to each
//! request in turn inside a savepoint of its own; the caller runs its statements on the leased
//! connection in its own task. [`Write::commit`] releases the savepoint and hands the
//! connection back; dropping the lease instead (an error, a cancelled future, a panic) rolls
//! back to the savepoint and hands it back. Requests that arrived meanwhile join the same
//! transaction (up to [`BATCH`]), then the writer commits once, one fsync for the batch, and
//! only then answers every member's `commit`. A failed COMMIT fails every member; a member
//! that rolls back undoes only its own savepoint (and, on PostgreSQL, ends its batch: see
//! [`Writer::batch`], on replicas' deadlocks).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use sqlx::any::AnyConnectOptions;
use sqlx::{Connection as _, Executor as _};

use super::{Backend, Conn};
use tokio::sync::{mpsc, oneshot};

/// Most leases committed in one transaction.
pub(super) const BATCH: usize = 64;

/// Requests that may wait for the writer; one more is refused, so overload shows as an error.
pub(super) const QUEUE: usize = 1024;

/// What the writer has done since the store opened, for `/metrics`.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// Batches committed (each one COMMIT, one fsync).
    pub(super) commits: AtomicU64,
    /// Write transactions committed in them.
    pub(super) writes: AtomicU64,
    /// Batches whose COMMIT failed (every member was told).
    pub(super) failed: AtomicU64,
}

/// What a member of a batch is told once the batch's COMMIT is done.
type Answer = Result<(), String>;

/// What the writer is asked.
pub(super) enum Request {
    /// A lease on the write connection, inside a savepoint (or why there is none).
    Write(oneshot::Sender<Result<Write, String>>),
    /// The migrations, run on the write connection outside any batch.
    Migrate(oneshot::Sender<anyhow::Result<i64>>),
    /// Close the connection and stop (after the batch in progress).
    Close(oneshot::Sender<()>),
}

/// How a lease comes home.
enum Home {
    /// Keep the member's work: release its savepoint; `answer` hears how the COMMIT went.
    Commit(Conn, oneshot::Sender<Answer>),
    /// Undo the member's work: roll back to its savepoint.
    Rollback(Conn),
}

/// A write transaction: the write connection, lent inside a savepoint. It derefs to the
/// connection, as sqlx's `Transaction` does. [`Write::commit`] keeps the work and returns once it
/// is durable; dropping it undoes the work.
pub struct Write {
    conn: Option<Conn>,
    home: Option<oneshot::Sender<Home>>,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Write").finish_non_exhaustive()
    }
}

impl Write {
    /// Keeps this transaction's work and waits until the batch it joined is committed: `Ok`
    /// only after the COMMIT (and its fsync) succeeded.
    pub async fn commit(mut self) -> anyhow::Result<()> {
        let (answer, answered) = oneshot::channel();
        self.go_home(|conn| Home::Commit(conn, answer))?;
        match answered.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::anyhow!(e)).context("committing a database transaction"),
            Err(_) => anyhow::bail!("the database writer stopped before committing"),
        }
    }

    /// Undoes this transaction's work (as dropping it does).
    pub async fn rollback(mut self) -> anyhow::Result<()> {
        self.go_home(Home::Rollback)
    }

    fn go_home(&mut self, how: impl FnOnce(Conn) -> Home) -> anyhow::Result<()> {
        let (Some(conn), Some(home)) = (self.conn.take(), self.home.take()) else {
            anyhow::bail!("the write lease was already handed back");
        };
        home.send(how(conn))
            .map_err(|_| anyhow::anyhow!("the database writer stopped"))
    }

    fn conn(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a Write holds its connection until commit or drop, which consume it")
    }
}

impl Deref for Write {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn()
    }
}

impl DerefMut for Write {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a Write holds its connection until commit or drop, which consume it")
    }
}

impl Drop for Write {
    fn drop(&mut self) {
        // Not committed: the work is undone and the connection goes home. If the writer is
        // gone there is nothing to undo into; the connection closes with this value.
        let _ = self.go_home(Home::Rollback);
    }
}

/// After this long, a lease still out is logged (and again each time as long again passes):
/// every other write waits for it.
const SLOW_LEASE: Duration = Duration::from_secs(5);

/// Waits for a lease to come home, saying so when it takes long.
async fn held(mut homecoming: oneshot::Receiver<Home>) -> Result<Home, oneshot::error::RecvError> {
    let mut waited = Duration::ZERO;
    loop {
        match tokio::time::timeout(SLOW_LEASE, &mut homecoming).await {
            Ok(home) => return home,
            Err(_) => {
                waited += SLOW_LEASE;
                tracing::warn!(held = ?waited, "a write transaction has held the database's write connection this long; every other write waits for it");
            }
        }
    }
}

/// Whether one member's lease came home in a state the transaction can go on from.
enum Leased {
    /// Committed into the batch: tell it the COMMIT's outcome.
    Member(oneshot::Sender<Answer>),
    /// Rolled back to its savepoint, or refused before it started: nothing to tell.
    Undone,
}

/// What the write connection is set to once opened: on SQLite, the WAL journal (readers never
/// wait for the writer), `synchronous = FULL` (a commit survives a power cut), foreign keys, and
/// a busy timeout for the moments a checkpoint holds the file. PostgreSQL's defaults are right
/// (`synchronous_commit = on`).
fn settings(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite => &[
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = FULL",
            "PRAGMA foreign_keys = ON",
            "PRAGMA busy_timeout = 10000",
        ],
        Backend::Postgres => &[],
    }
}

/// Opens the write connection, set up as [`settings`] says.
pub(super) async fn open(backend: Backend, options: &AnyConnectOptions) -> anyhow::Result<Conn> {
    let mut conn = Conn::connect_with(options).await?;
    for setting in settings(backend) {
        conn.execute(*setting)
            .await
            .with_context(|| format!("{setting} on the write connection"))?;
    }
    Ok(conn)
}

/// The writer task's state: the connection (none after it was lost) and how to reopen it.
pub(super) struct Writer {
    conn: Option<Conn>,
    backend: Backend,
    options: AnyConnectOptions,
    requests: mpsc::Receiver<Request>,
    /// What it has done, for [`Store::commits`](super::Store::commits) and `/metrics`.
    counts: Arc<Counts>,
}

impl Writer {
    pub(super) fn new(
        conn: Conn,
        backend: Backend,
        options: AnyConnectOptions,
        requests: mpsc::Receiver<Request>,
        counts: Arc<Counts>,
    ) -> Self {
        Self {
            conn: Some(conn),
            backend,
            options,
            requests,
            counts,
        }
    }

    /// Serves requests until the store is closed or every handle on it is dropped.
    pub(super) async fn run(mut self) {
        let mut next = None;
        loop {
            let request = match next.take() {
                Some(request) => request,
                None => match self.requests.recv().await {
                    Some(request) => request,
                    None => break,
                },
            };
            match request {
                Request::Write(lease) => next = self.batch(lease).await,
                Request::Migrate(done) => {
                    let _ = done.send(self.migrate().await);
                }
                Request::Close(done) => {
                    self.close().await;
                    let _ = done.send(());
                    return;
                }
            }
        }
        self.close().await;
    }

    async fn close(&mut self) {
        if let Some(conn) = self.conn.take()
            && let Err(e) = conn.close().await
        {
            tracing::warn!(error = %e, "closing the write connection");
        }
    }

    /// The write connection, reopened if it was lost.
    async fn connection(&mut self) -> anyhow::Result<&mut Conn> {
        if self.conn.is_none() {
            tracing::warn!("reopening the database's write connection");
            let conn = open(self.backend, &self.options)
                .await
                .context("reopening the database's write connection")?;
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .context("the write connection is not there")
    }

    /// One transaction: `first`, then whatever is queued behind it (up to [`BATCH`]), one
    /// COMMIT. Returns a request other than a write met on the way, to be served after it.
    ///
    /// On SQLite each statement is a hand-off to the connection's own thread, so the writer's
    /// own statements go in pairs: the transaction's `BEGIN` with the first savepoint, each
    /// member's `RELEASE` with the next one's `SAVEPOINT` or with the `COMMIT`. (SQLite has no
    /// failed-transaction state: a `RELEASE` of a member's savepoint does not fail on its
    /// own.) On PostgreSQL each is its own statement, a member's `RELEASE` checked apart.
    async fn batch(&mut self, first: oneshot::Sender<Result<Write, String>>) -> Option<Request> {
        let paired = self.backend == Backend::Sqlite;
        if !paired && let Err(e) = self.execute(self.backend.begin()).await {
            let e = format!("{e:#}");
            tracing::error!(error = %e, "could not start a write transaction");
            let _ = first.send(Err(e));
            // The connection may be dead (a database server restarted): the next batch opens
            // a new one rather than failing on this one for good.
            self.conn = None;
            return None;
        }
        let mut members = Vec::new();
        let mut after = None;
        let mut next = Some(first);
        let mut leased = 0;
        // On SQLite, the last member's savepoint, kept and not released yet.
        let mut open = false;
        while let Some(request) = next.take() {
            let opening = match (paired, leased, open) {
                (true, 0, _) => "BEGIN IMMEDIATE; SAVEPOINT member",
                (true, _, true) => "RELEASE member; SAVEPOINT member",
                _ => "SAVEPOINT member",
            };
            leased += 1;
            let lease = self.lease(request, opening, paired).await;
            open = matches!(lease, Ok(Leased::Member(_))) && paired;
            match lease {
                Ok(Leased::Member(answer)) => members.push(answer),
                // On PostgreSQL what undid it may be another replica's transaction, waiting
                // for locks this batch holds while this one waited for its (a deadlock, which
                // the server broke by failing this member): the batch commits now and lets
                // go of them, and the member's second try goes into the next batch. Joining
                // this one, it would meet the same deadlock again.
                Ok(Leased::Undone) if self.backend == Backend::Postgres => break,
                Ok(Leased::Undone) => {}
                Err(e) => {
                    // The transaction cannot go on: every member so far fails, none was
                    // answered yet; the connection is dropped and reopened for the next batch.
                    let e = format!("{e:#}");
                    tracing::error!(error = %e, members = members.len(), "a write transaction broke; rolling back its batch");
                    self.conn = None;
                    for member in members {
                        let _ = member.send(Err(e.clone()));
                    }
                    return None;
                }
            }
            if leased >= BATCH {
                break;
            }
            next = match self.requests.try_recv() {
                Ok(Request::Write(lease)) => Some(lease),
                Ok(other) => {
                    after = Some(other);
                    None
                }
                Err(_) => None,
            };
        }
        let committed = self
            .execute(if open {
                "RELEASE member; COMMIT"
            } else {
                "COMMIT"
            })
            .await;
        if committed.is_ok() {
            self.counts.commits.fetch_add(1, Ordering::Relaxed);
            self.counts
                .writes
                .fetch_add(members.len() as u64, Ordering::Relaxed);
        }
        if let Err(e) = &committed {
            self.counts.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %format!("{e:#}"), members = members.len(), "a batch's COMMIT failed");
            if self.execute("ROLLBACK").await.is_err() {
                self.conn = None;
            }
        }
        let answer = committed.map_err(|e| format!("{e:#}"));
        for member in members {
            let _ = member.send(answer.clone());
        }
        after
    }

    /// Lends the connection to one request inside a savepoint (`opening` makes it) and takes
    /// it back. With `keep`, a member that commits keeps its savepoint open for the batch to
    /// release with the next statement it runs. `Err` when the transaction is no longer
    /// usable (the connection lost, a savepoint that would not roll back).
    async fn lease(
        &mut self,
        request: oneshot::Sender<Result<Write, String>>,
        opening: &'static str,
        keep: bool,
    ) -> anyhow::Result<Leased> {
        if let Err(e) = self.execute(opening).await {
            let _ = request.send(Err(format!("{e:#}")));
            return Err(e);
        }
        let conn = self
            .conn
            .take()
            .context("the write connection is not there")?;
        let (home, homecoming) = oneshot::channel();
        // A caller that gave up meanwhile drops the lease it was sent, which sends it home.
        let _ = request.send(Ok(Write {
            conn: Some(conn),
            home: Some(home),
        }));
        let homecoming = held(homecoming).await;
        match homecoming {
            Ok(Home::Commit(conn, answer)) => {
                self.conn = Some(conn);
                if keep {
                    return Ok(Leased::Member(answer));
                }
                if let Err(e) = self.execute("RELEASE member").await {
                    self.undo().await?;
                    let _ = answer.send(Err(format!("{e:#}")));
                    return Ok(Leased::Undone);
                }
                Ok(Leased::Member(answer))
            }
            Ok(Home::Rollback(conn)) => {
                self.conn = Some(conn);
                self.undo().await?;
                Ok(Leased::Undone)
            }
            Err(_) => anyhow::bail!("the write connection was lost with its lease"),
        }
    }

    /// Rolls back to the member's savepoint and ends it.
    async fn undo(&mut self) -> anyhow::Result<()> {
        if self.backend == Backend::Sqlite {
            return self.execute("ROLLBACK TO member; RELEASE member").await;
        }
        self.execute("ROLLBACK TO member").await?;
        self.execute("RELEASE member").await
    }

    /// One statement on the write connection. Boxed: a `Send` future with its lifetimes fixed
    /// here, which `tokio::spawn` of the writer needs (sqlx's executor lifetimes otherwise
    /// defeat the compiler's check).
    fn execute(&mut self, sql: &'static str) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            self.connection().await?;
            let conn: &mut Conn = self
                .conn
                .as_mut()
                .context("the write connection is not there")?;
            let done = conn.execute(sql).await;
            done.with_context(|| format!("{sql} on the write connection"))?;
            Ok(())
        })
    }

    /// The migrations on the write connection (boxed as [`Self::execute`] is).
    /// Brings the schema up to date; returns the largest outbox id (see
    /// [`super::Store::predates_this_process`]).
    fn migrate(&mut self) -> BoxFuture<'_, anyhow::Result<i64>> {
        Box::pin(async move {
            self.connection().await?;
            let migrator = self.backend.migrator();
            let conn: &mut Conn = self
                .conn
                .as_mut()
                .context("the write connection is not there")?;
            let done = migrator.run_direct(&mut *conn).await;
            done.context("applying database migrations")?;
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM outbox")
                .fetch_one(&mut *conn)
                .await
                .context("reading the outbox")
        })
    }
}
