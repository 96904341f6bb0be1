//! Where a test's database lives: a SQLite file in the test's folder, or, when the run is
//! pointed at a PostgreSQL server (`KLAXON_TEST_POSTGRES`, a URL without a database name, such
//! as `scripts/test` sets for its PostgreSQL pass), a new empty database of its own there. The
//! same tests then run on both backends.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the PostgreSQL server the suite runs on, e.g.
/// `postgres://klaxon@127.0.0.1:5433`.
pub const SERVER: &str = "KLAXON_TEST_POSTGRES";

/// The PostgreSQL server this run uses, if any.
pub fn postgres_server() -> Option<String> {
    std::env::var(SERVER)
        .ok()
        .filter(|url| !url.is_empty())
        .map(|url| url.trim_end_matches('/').to_owned())
}

/// Whether this run's databases are PostgreSQL ones.
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// The database called `name` in the test folder `dir`, made empty the first time it is asked
/// for: the SQLite file `dir/name`, or a PostgreSQL database on the run's server whose URL is
/// kept in `dir/name.postgres` so that a restart on the same folder finds the same data. What
/// it returns is what `--db` / `KLAXON_DATABASE_URL` take.
pub async fn at(dir: &Path, name: &str) -> String {
    let Some(server) = postgres_server() else {
        return dir.join(name).to_str().expect("utf-8 path").to_owned();
    };
    let keep = dir.join(format!("{name}.postgres"));
    if let Ok(url) = std::fs::read_to_string(&keep) {
        return url;
    }
    let url = create(&server).await;
    std::fs::write(&keep, &url).expect("note the test database's URL");
    url
}

/// [`at`] for code outside a runtime (tests that start `klaxon` processes).
pub fn at_blocking(dir: &Path, name: &str) -> String {
    let (dir, name) = (dir.to_owned(), name.to_owned());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(at(&dir, &name))
    })
    .join()
    .expect("creating the test database")
}

/// Creates a database with a name no other test of any process has, and returns its URL.
async fn create(server: &str) -> String {
    use sqlx::Connection as _;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "t{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap_or_else(|e| panic!("connecting to {SERVER}={server}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    let _ = admin.close().await;
    format!("{server}/{name}")
}

/// A new empty PostgreSQL database for a test that needs PostgreSQL whatever the run's backend
/// (several replicas on one database): on the run's server when there is one, otherwise on a
/// private cluster started for the test, which is stopped when the returned guard drops. No
/// test is skipped for want of a server.
pub async fn postgres() -> (Option<crate::postgres::Postgres>, String) {
    if let Some(server) = postgres_server() {
        return (None, create(&server).await);
    }
    let pg = tokio::task::spawn_blocking(crate::postgres::Postgres::start)
        .await
        .expect("join")
        .expect("a private PostgreSQL cluster starts");
    let url = create(pg.url("").trim_end_matches('/')).await;
    (Some(pg), url)
}
