//! All of Klaxon's SQL. Nothing outside this module writes a query.
//!
//! Two backends behind one API, through sqlx's `Any` driver: SQLite, the embedded default (WAL,
//! a busy timeout, foreign keys on, and `synchronous = FULL` so a committed command survives a
//! power cut), and PostgreSQL when the database URL says `postgres://` ([`Backend`]). Every
//! query is written once, in SQL both accept (`$1` placeholders, integers for flags, UTC text
//! for times); the schema of each is in `migrations/<backend>/`, embedded and applied at open.
//! One writer task owns the only write connection ([`writer`]): [`Store::begin`] leases it
//! inside a savepoint and commits with whatever else arrived meanwhile (group commit). Reads go
//! to a pool of read-only connections ([`Store::read`]) and never wait for the writer.

pub mod alerts;
pub(crate) mod batch;
pub mod captures;
pub mod checklist;
pub mod deliveries;
pub mod feeds;
pub mod incidents;
pub mod leases;
pub mod notify;
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
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions as _, Executor as _};
use tokio::sync::{mpsc, oneshot};

pub use incidents::Incident;
pub use timeline::Entry;
use writer::Request;
pub use writer::Write;

/// The database driver every query runs on: sqlx's `Any`, SQLite or PostgreSQL underneath.
pub type Db = sqlx::Any;

/// A connection to either backend: what every store function takes.
pub type Conn = sqlx::AnyConnection;

/// The SQLite schema (`migrations/sqlite/`), embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The PostgreSQL schema (`migrations/postgres/`), embedded in the binary.
pub static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file, the embedded default.
    Sqlite,
    /// A PostgreSQL server (13 or newer), shared by any number of replicas.
    Postgres,
}

impl Backend {
    /// The backend a database URL (as [`database_url`] gives it) names.
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    /// The backend a connection is to.
    pub fn of_conn(conn: &Conn) -> Self {
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    /// The schema's migrations.
    pub fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Self::Sqlite => &MIGRATOR,
            Self::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// What a query that picks a due row to fire ends with, so that replicas sharing the
    /// database never pick the same one: on PostgreSQL the row is locked until the firing
    /// commits, and rows another replica is firing are passed over. SQLite has one process per
    /// file ([`crate::lock`]) and one writer, so nothing to add.
    pub(crate) fn claim_row(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// How the writer opens a batch: SQLite takes its write lock at once, so a batch never
    /// fails half-way for want of it; PostgreSQL locks row by row.
    pub(crate) fn begin(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }
}

/// Read-only connections: reads of pages, metrics, the dispatcher and the scheduler at once.
const READERS: u32 = 4;

/// How long `begin` waits for its lease before it gives up: the writer is overloaded, or a
/// write transaction is waiting for another one (a `begin` inside a `begin`), which can never
/// be served.
const LEASE_WAIT: Duration = Duration::from_secs(30);

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    /// Which engine it is.
    backend: Backend,
    /// Read-only connections.
    read: AnyPool,
    /// The writer task's queue (bounded: [`writer::QUEUE`]).
    writer: mpsc::Sender<Request>,
    /// What the writer has committed.
    counts: Arc<writer::Counts>,
    /// How long `begin` waits for its lease ([`LEASE_WAIT`]).
    lease_wait: Duration,
    /// The PostgreSQL URL, for a connection that listens ([`Store::listen_url`]).
    listen_url: Option<ListenUrl>,
    /// The largest outbox id when the schema was last brought up to date in this process
    /// ([`Store::migrate`]): calls up to it may have been started by an earlier process
    /// ([`Store::predates_this_process`]). Until then every call counts as one.
    outbox_at_start: Arc<std::sync::atomic::AtomicI64>,
}

/// A PostgreSQL URL kept for a connection of its own; shown redacted (it may hold a password).
#[derive(Clone)]
struct ListenUrl(Arc<str>);

impl std::fmt::Debug for ListenUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Turns `--db` / `KLAXON_DATABASE_URL` into an sqlx URL: a plain path is a SQLite file path;
/// `sqlite:…`, `postgres://…` and `postgresql://…` are taken as they are.
pub fn database_url(db: &str) -> String {
    if db.starts_with("sqlite:") || Backend::of(db) == Backend::Postgres {
        db.to_owned()
    } else {
        format!("sqlite://{db}")
    }
}

/// A database location fit for a log or an error: a URL's password is left out.
pub fn redact(db: &str) -> String {
    match url::Url::parse(db) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("…"));
            url.to_string()
        }
        _ => db.to_owned(),
    }
}

/// What each read-only connection is set to once opened.
fn reader_settings(backend: Backend) -> &'static [&'static str] {
    match backend {
        // The file is opened read-only (`mode=ro`); a reader waits for a checkpoint at most this.
        Backend::Sqlite => &["PRAGMA busy_timeout = 10000"],
        // A read connection that tries to write fails, as SQLite's does.
        Backend::Postgres => &["SET default_transaction_read_only = on"],
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
        sqlx::any::install_default_drivers();
        let url = database_url(db);
        let backend = Backend::of(&url);
        let (write, read) = match backend {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(&url)
                    .with_context(|| format!("bad database location {db:?}"))?;
                let write = options.clone().create_if_missing(true).to_url_lossy();
                let read = options.read_only(true).to_url_lossy();
                (
                    AnyConnectOptions::from_url(&write)?,
                    AnyConnectOptions::from_url(&read)?,
                )
            }
            Backend::Postgres => {
                let options = AnyConnectOptions::from_str(&url)
                    .context("bad PostgreSQL URL (postgres://user:password@host/database)")?;
                (options.clone(), options)
            }
        };
        let conn = writer::open(backend, &write)
            .await
            .with_context(|| format!("opening database {}", redact(db)))?;
        let read = AnyPoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(Duration::from_secs(30))
            // A SQLite connection is a file in this process: nothing can break it between two
            // uses, and sqlx's ping before each use is a round trip to the connection's thread.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    for pragma in reader_settings(backend) {
                        conn.execute(*pragma).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(read)
            .await
            .with_context(|| format!("opening database {} for reading", redact(db)))?;
        let (writer, requests) = mpsc::channel(writer::QUEUE);
        let counts = Arc::new(writer::Counts::default());
        // The store's own task: it ends when the store is closed or its last handle dropped.
        tokio::spawn(
            writer::Writer::new(conn, backend, write, requests, Arc::clone(&counts)).run(),
        );
        Ok(Self {
            backend,
            read,
            writer,
            counts,
            lease_wait: LEASE_WAIT,
            listen_url: (backend == Backend::Postgres).then(|| ListenUrl(Arc::from(url.as_str()))),
            outbox_at_start: Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX)),
        })
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// On PostgreSQL, the URL a connection of its own (`LISTEN`) opens; it may hold a password:
    /// never logged (see [`redact`]).
    pub fn listen_url(&self) -> Option<&str> {
        self.listen_url.as_ref().map(|url| &*url.0)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let (done, migrated) = oneshot::channel();
        self.ask(Request::Migrate(done))?;
        let newest = migrated
            .await
            .context("the database writer stopped")?
            .context("applying database migrations")?;
        self.outbox_at_start
            .store(newest, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Whether outbox call `id` was queued before this process opened the database, so that
    /// an earlier process may have started it (and died before recording its end). On SQLite,
    /// whose file lock makes one process the only one making calls, this stands in for a
    /// written start mark: a call queued since was started, if at all, by this process, which
    /// knows (its attempts).
    pub fn predates_this_process(&self, id: i64) -> bool {
        id <= self
            .outbox_at_start
            .load(std::sync::atomic::Ordering::Relaxed)
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
    pub async fn read(&self) -> anyhow::Result<sqlx::pool::PoolConnection<Db>> {
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
        self.counts.commits.load(Ordering::Relaxed)
    }

    /// Write transactions committed since the store was opened (over [`Store::commits`]: how
    /// many each COMMIT carried on average).
    pub fn writes_committed(&self) -> u64 {
        self.counts.writes.load(Ordering::Relaxed)
    }

    /// Batches whose COMMIT failed since the store was opened.
    pub fn commit_failures(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
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

/// Makes the rest of the caller's write transaction the only one, across every process on the
/// database, that works on `what` (a tenant's incident numbers, an incident's postmortem
/// versions, a delivery): on PostgreSQL a transaction-level advisory lock, held until the
/// transaction ends (safe behind a transaction pooler), so a second replica's transaction waits
/// and then reads what the first committed instead of computing the same next number or
/// answering the same delivery again. On SQLite the writer's `BEGIN IMMEDIATE` already makes
/// every write transaction the file's only one: nothing to do.
pub async fn serialize(conn: &mut Conn, what: &str) -> anyhow::Result<()> {
    if Backend::of_conn(conn) == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(SERIALIZE_CLASS)
            .bind(what)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("waiting for other replicas' work on {what}"))?;
    }
    Ok(())
}

/// Whether a write failed only because it ran into another replica's transaction at the same
/// moment (PostgreSQL's `deadlock_detected` or `serialization_failure`): its savepoint is
/// rolled back and nothing of it remains, so running it again is safe and will succeed.
pub fn is_conflict(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<sqlx::Error>()
            .and_then(sqlx::Error::as_database_error)
            .and_then(|db| db.code())
            .is_some_and(|code| code == "40P01" || code == "40001")
    })
}

/// The first key of [`serialize`]'s locks: a number no other program on the database uses.
const SERIALIZE_CLASS: i32 = 0x6b6c_6178; // "klax"

/// Rows in one of Klaxon's tables (for diagnostics and tests).
pub async fn count_rows(conn: &mut Conn, table: &str) -> anyhow::Result<i64> {
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

/// A yes/no value: stored as 0 or 1 (SQLite's INTEGER, PostgreSQL's BIGINT, so the same SQL
/// compares it on both), read back from such a column or from a boolean expression (`EXISTS`
/// is an integer on SQLite and a boolean on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> Self {
        flag.0
    }
}

impl sqlx::Type<Db> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Db>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Db>>::compatible(ty) || <bool as sqlx::Type<Db>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Db> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <bool as sqlx::Decode<Db>>::decode(value.clone()) {
            Ok(yes) => Ok(Self(yes)),
            Err(_) => Ok(Self(<i64 as sqlx::Decode<Db>>::decode(value)? != 0)),
        }
    }
}

impl<'q> sqlx::Encode<'q, Db> for Flag {
    fn encode_by_ref(
        &self,
        buf: &mut <Db as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <i64 as sqlx::Encode<'q, Db>>::encode_by_ref(&i64::from(self.0), buf)
    }
}
