//! Leadership among replicas on one database (issue #16): the lease one of them leads under
//! (taken only when free, expired or already held; renewed; handed over when it expires), the
//! Discord gateway following it (on the leader only, moving to a survivor within 15 s of the
//! leader's kill -9, at once after a clean stop), `/readyz` and `/metrics` saying which replica
//! leads, and replicas waking each other with PostgreSQL's NOTIFY (a call queued on one is made
//! by another's dispatcher without waiting for the fallback poll), and a replica's kill -9 in
//! the middle of a burst of commands (nothing answered lost, every call made once).
//!
//! The lease tests run on both backends. The others need two replicas on one database, so
//! PostgreSQL: the run's server when `KLAXON_TEST_POSTGRES` names one, else a private cluster
//! started for the test (never skipped).

mod burst;
mod failover;
mod leases;
mod notify;

use std::sync::Arc;
use std::time::Duration;

use klaxon::app::{PlatformSettings, ReplicaSettings, serve_with_clock};
use klaxon::clock::SystemClock;
use klaxon::store::Store;
use klaxon_tests::fake_discord::FakeDiscord;
use klaxon_tests::postgres::Postgres;

/// A PostgreSQL database for a test that needs one, and the private cluster it is on (kept
/// until the test ends) when the run has no server.
struct Database {
    url: String,
    cluster: Option<Postgres>,
}

impl Database {
    async fn new(dir: &std::path::Path) -> Self {
        if klaxon_tests::database::on_postgres() {
            return Self {
                url: klaxon_tests::database::at(dir, "k.db").await,
                cluster: None,
            };
        }
        let pg = tokio::task::spawn_blocking(Postgres::start)
            .await
            .expect("join")
            .expect("a private PostgreSQL cluster starts");
        let url = pg.database("replicas").await.expect("a database");
        Self {
            url,
            cluster: Some(pg),
        }
    }

    /// A database on a private cluster of its own, whatever the run's server (a test that
    /// stops the server).
    async fn private() -> Self {
        let pg = tokio::task::spawn_blocking(Postgres::start)
            .await
            .expect("join")
            .expect("a private PostgreSQL cluster starts");
        let url = pg.database("replicas").await.expect("a database");
        Self {
            url,
            cluster: Some(pg),
        }
    }

    /// Stops the private cluster, if any (pg_ctl blocks).
    async fn stop(self) {
        if let Some(pg) = self.cluster {
            drop(tokio::task::spawn_blocking(move || drop(pg)).await);
        }
    }
}

/// The `klaxon` binary (the test build) and a folder for a replica process, its `klaxon.toml`
/// the in-process replicas' configuration (`spawn::discord::config("")`).
async fn process_folder() -> (std::path::PathBuf, tempfile::TempDir) {
    let bin = tokio::task::spawn_blocking(klaxon_tests::binary::klaxon)
        .await
        .expect("build");
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("klaxon.toml"),
        klaxon_tests::spawn::discord::config_text(""),
    )
    .expect("config");
    (bin, dir)
}

/// One replica served in-process on `db` against the fake Discord (gateway and REST).
struct Replica {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The settings of replica `id`: the fake Discord's, and `poll` as the fallback poll.
fn settings(fake: &FakeDiscord, id: &str, poll: Duration) -> PlatformSettings {
    PlatformSettings {
        replica: ReplicaSettings {
            id: id.to_owned(),
            poll,
            ..ReplicaSettings::default()
        },
        ..klaxon_tests::spawn::discord::settings(fake)
    }
}

impl Replica {
    /// Serves replica `id` on `db` and waits until its endpoints answer.
    async fn start(db: &str, settings: PlatformSettings) -> Self {
        Self::start_with_clock(db, settings, Arc::new(SystemClock)).await
    }

    /// The same, on `clock` (a manual one moves a dead replica's claims past their lease).
    async fn start_with_clock(
        db: &str,
        settings: PlatformSettings,
        clock: Arc<dyn klaxon::clock::Clock>,
    ) -> Self {
        let store = Store::open(db).await.expect("store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(serve_with_clock(
            store,
            klaxon_tests::spawn::discord::config(""),
            settings,
            listener,
            async move {
                let _ = stopped.await;
            },
            clock,
        ));
        klaxon_tests::started(&url).await;
        Self {
            url,
            stop: Some(stop),
            done,
        }
    }

    /// Stops it as a shutdown signal would and waits for a clean end.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.done)
            .await
            .expect("join")
            .expect("serve ends cleanly");
    }
}

/// `/readyz` at `url`: its status and text.
async fn readyz(url: &str) -> (u16, String) {
    let r = reqwest::get(format!("{url}/readyz")).await.expect("readyz");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// `/metrics` at `url`.
async fn metrics(url: &str) -> String {
    let r = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("metrics");
    assert_eq!(r.status().as_u16(), 200);
    r.text().await.expect("text")
}

/// The `klaxon_leader` line of replica `id` on the Discord gateway's lease, with `value`.
fn leader_line(id: &str, value: u8) -> String {
    format!("klaxon_leader{{lease=\"discord-gateway\",replica=\"{id}\"}} {value}")
}
