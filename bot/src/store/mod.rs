//! All of Klaxon's SQL. Nothing outside this module writes a query.
//!
//! SQLite through sqlx: migrations embedded and applied at open, WAL, a busy timeout, foreign
//! keys on, and `synchronous = FULL` so a committed command survives a power cut. Writers take
//! the lock up front (`BEGIN IMMEDIATE`) so concurrent commands queue instead of failing.

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

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

pub use incidents::Incident;
pub use timeline::Entry;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// Turns `--db` / `KLAXON_DATABASE_URL` into an sqlx URL: a plain path is a file path.
pub fn database_url(db: &str) -> String {
    if db.starts_with("sqlite:") {
        db.to_owned()
    } else {
        format!("sqlite://{db}")
    }
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn open(db: &str) -> anyhow::Result<Self> {
        let store = Self::connect(db).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens the database without migrating it.
    pub async fn connect(db: &str) -> anyhow::Result<Self> {
        let url = database_url(db);
        let options = SqliteConnectOptions::from_str(&url)
            .with_context(|| format!("bad database location {db:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .with_context(|| format!("opening database {db}"))?;
        Ok(Self { pool })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("applying database migrations")
    }

    /// Starts a write transaction, holding SQLite's write lock from the start.
    pub async fn begin(&self) -> anyhow::Result<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context("starting a database transaction")
    }

    /// A pooled connection, for reads and single-statement writes.
    pub async fn conn(&self) -> anyhow::Result<sqlx::pool::PoolConnection<Sqlite>> {
        self.pool
            .acquire()
            .await
            .context("acquiring a database connection")
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
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
