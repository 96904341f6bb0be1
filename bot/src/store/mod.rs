//! All of Klaxon's SQL. Nothing outside this module writes a query.
//!
//! SQLite through sqlx: migrations embedded and applied at open, WAL, a busy timeout, foreign
//! keys on, and `synchronous = FULL` so a committed command survives a power cut. One writer
//! task owns the only write connection ([`writer`]): [`Store::begin`] leases it inside a
//! savepoint and commits with whatever else arrived meanwhile (group commit). Reads go to a
//! pool of read-only connections ([`Store::read`]) and never wait for the writer.

pub mod alerts;
pub mod captures;
pub mod checklist;
pub mod deliveries;
pub mod feeds;
pub mod incidents;
pub mod oncall;
pub mod outbox;
pub mod pages;
pub mod postmortems;
pub mod posts;
pub mod reminders;
pub mod runbooks;
pub mod timeline;
pub mod web;
pub mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

pub use incidents::Incident;
pub use timeline::Entry;
use writer::Request;
pub use writer::Write;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Read-only connections: reads of pages, metrics, the dispatcher and the scheduler at once.
const READERS: u32 = 4;

/// How long `begin` waits for its lease before it gives up: the writer is overloaded, or a
/// write transaction is waiting for another one (a `begin` inside a `begin`), which can never
/// be served.
const LEASE_WAIT: Duration = Duration::from_secs(30);

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// Read-only connections.
    read: SqlitePool,
    /// The writer task's queue (bounded: [`writer::QUEUE`]).
    writer: mpsc::Sender<Request>,
    /// Batches the writer has committed.
    commits: Arc<AtomicU64>,
    /// How long `begin` waits for its lease ([`LEASE_WAIT`]).
    lease_wait: Duration,
}

/// Turns `--db` / `KLAXON_DATABASE_URL` into an sqlx URL: a plain path is a file path.
pub fn database_url(db: &str) -> String {
    if db.starts_with("sqlite:") {
        db.to_owned()
    } else {
        format!("sqlite://{db}")
    }
}

/// Whether `db` names an in-memory database, which one writer and separate readers cannot share.
fn in_memory(db: &str) -> bool {
    db.contains(":memory:") || db.contains("mode=memory")
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn open(db: &str) -> anyhow::Result<Self> {
        let store = Self::connect(db).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database without migrating it: the write connection, owned by a writer task
    /// started here, and the pool of read-only connections.
    pub async fn connect(db: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !in_memory(db),
            "an in-memory database ({db}) cannot be shared by Klaxon's writer and readers: give a file path"
        );
        let url = database_url(db);
        let options = SqliteConnectOptions::from_str(&url)
            .with_context(|| format!("bad database location {db:?}"))?
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let write = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let conn = SqliteConnection::connect_with(&write)
            .await
            .with_context(|| format!("opening database {db}"))?;
        let read = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("opening database {db} for reading"))?;
        let (writer, requests) = mpsc::channel(writer::QUEUE);
        let commits = Arc::new(AtomicU64::new(0));
        // The store's own task: it ends when the store is closed or its last handle dropped.
        tokio::spawn(writer::Writer::new(conn, write, requests, Arc::clone(&commits)).run());
        Ok(Self {
            read,
            writer,
            commits,
            lease_wait: LEASE_WAIT,
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let (done, migrated) = oneshot::channel();
        self.ask(Request::Migrate(done))?;
        migrated
            .await
            .context("the database writer stopped")?
            .context("applying database migrations")
    }

    /// Starts a write transaction: a lease on the write connection, inside a savepoint, in the
    /// writer's next batch. Its `commit` returns once the batch is committed.
    ///
    /// Never call it while holding a lease (not even across tasks): the second waits for the
    /// first, which waits for the second; after [`LEASE_WAIT`] it fails with an error saying so.
    pub async fn begin(&self) -> anyhow::Result<Write> {
        let (lease, leased) = oneshot::channel();
        self.ask(Request::Write(lease))?;
        match tokio::time::timeout(self.lease_wait, leased).await {
            Ok(Ok(Ok(write))) => Ok(write),
            Ok(Ok(Err(e))) => Err(anyhow::Error::msg(e)).context("starting a database transaction"),
            Ok(Err(_)) => anyhow::bail!("the database writer stopped"),
            Err(_) => {
                let waited = self.lease_wait;
                tracing::error!(
                    ?waited,
                    "no write lease; is a write transaction begun inside another?"
                );
                anyhow::bail!(
                    "waited {waited:?} for the database writer: it is overloaded, or a write transaction was begun inside another (which waits for itself)"
                )
            }
        }
    }

    /// The same store with `begin` giving up after `wait` instead of [`LEASE_WAIT`].
    #[must_use]
    pub fn with_lease_wait(mut self, wait: Duration) -> Self {
        self.lease_wait = wait;
        self
    }

    /// A read-only pooled connection; it sees what is committed and never waits for a writer.
    pub async fn read(&self) -> anyhow::Result<sqlx::pool::PoolConnection<Sqlite>> {
        self.read
            .acquire()
            .await
            .context("acquiring a database connection")
    }

    /// Whether the database answers and its writer runs.
    pub async fn ping(&self) -> bool {
        !self.writer.is_closed() && sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    /// Closes the readers and, after the batch in progress, the write connection.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.writer.send(Request::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
        self.read.close().await;
    }

    /// Write transactions waiting for the writer (not counting the one it is serving).
    pub fn waiting(&self) -> usize {
        self.writer.max_capacity() - self.writer.capacity()
    }

    /// Batches committed since the store was opened (each one COMMIT, one fsync).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues a request for the writer, refusing when the queue is full.
    fn ask(&self, request: Request) -> anyhow::Result<()> {
        match self.writer.try_send(request) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    waiting = writer::QUEUE,
                    "the database writer's queue is full; refusing a write"
                );
                anyhow::bail!(
                    "the database is overloaded: {} writes are waiting",
                    writer::QUEUE
                )
            }
            Err(mpsc::error::TrySendError::Closed(_)) => anyhow::bail!("the database is closed"),
        }
    }
}

/// Rows in one of Klaxon's tables (for diagnostics and tests).
pub async fn count_rows(conn: &mut sqlx::SqliteConnection, table: &str) -> anyhow::Result<i64> {
    anyhow::ensure!(
        [
            "incidents",
            "roles",
            "timeline",
            "posts",
            "outbox",
            "deliveries"
        ]
        .contains(&table),
        "unknown table {table}"
    );
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut *conn)
        .await?)
}

/// A "done by whom, when" pair from its nullable columns.
pub(crate) fn done_by(
    at: Option<String>,
    id: Option<String>,
    name: Option<String>,
) -> anyhow::Result<Option<(klaxon_commands::UserRef, chrono::DateTime<chrono::Utc>)>> {
    match (at, id) {
        (Some(at), Some(id)) => Ok(Some((
            klaxon_commands::UserRef { id, name },
            crate::clock::from_db(&at)?,
        ))),
        _ => Ok(None),
    }
}
