//! The one way an integration test runs Klaxon's `serve` in-process: [`spawn`]`(platform,
//! options)` against the fake Slack (signed HTTP or Socket Mode) or the fake Discord (the
//! gateway, and the signed HTTP endpoint when the settings give a public key), on the system
//! clock or a manual one, with alert intake when asked. The returned [`Bot`] has the fake, the
//! database's path and, per platform, helpers for the recurring steps (`slack.rs`,
//! `discord.rs`).

pub mod discord;
pub mod slack;

use std::sync::Arc;

use klaxon::app::{PlatformSettings, serve_with_clock};
use klaxon::clock::{Clock, ManualClock, SystemClock};
use klaxon::config::Config;
use klaxon::store::Store;

use crate::fake_discord::FakeDiscord;
use crate::fake_slack::FakeSlack;

/// The bearer token alert senders use in tests.
pub const ALERTS_TOKEN: &str = "alerts-test-token-5f1c";

/// A platform Klaxon can be spawned on, with its fake.
pub trait Platform {
    type Fake: Send + 'static;

    /// A fresh fake.
    fn fake() -> impl Future<Output = Self::Fake> + Send;
    /// The settings that point Klaxon at `fake`.
    fn settings(&self, fake: &Self::Fake) -> PlatformSettings;
    /// The configuration `toml` stands for on this platform (the checklist is off unless it
    /// says otherwise).
    fn config(&self, toml: &str) -> Config;
    /// Waits until Klaxon, served at `url` with `config`, is ready for the test; panics if it
    /// stopped.
    fn ready(
        &self,
        fake: &Self::Fake,
        url: &str,
        config: &Config,
        done: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
    ) -> impl Future<Output = ()> + Send;
}

/// Slack over signed HTTP (`SLACK_SIGNING_SECRET`).
pub struct SlackHttp;
/// Slack over Socket Mode (`SLACK_APP_TOKEN`).
pub struct SlackSocket;
/// Discord over the gateway.
pub struct Discord;

/// How to spawn: everything is optional.
pub struct Options<F> {
    config: Option<Config>,
    toml: String,
    alerts_token: Option<String>,
    manual_clock: bool,
    fake: Option<F>,
    settings: Option<PlatformSettings>,
    dir: Option<tempfile::TempDir>,
    started_only: bool,
}

impl<F> Default for Options<F> {
    fn default() -> Self {
        Self {
            config: None,
            toml: String::new(),
            alerts_token: None,
            manual_clock: false,
            fake: None,
            settings: None,
            dir: None,
            started_only: false,
        }
    }
}

impl<F> Options<F> {
    /// Configuration in TOML, on top of the platform's (see [`Platform::config`]).
    pub fn toml(mut self, toml: &str) -> Self {
        self.toml = toml.to_owned();
        self
    }

    /// This whole configuration instead.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Alert intake on, with this bearer token.
    pub fn alerts(mut self, token: Option<&str>) -> Self {
        self.alerts_token = token.map(str::to_owned);
        self
    }

    /// Klaxon runs on a [`ManualClock`] at [`crate::start_time`] (`Bot::clock`).
    pub fn manual_clock(mut self) -> Self {
        self.manual_clock = true;
        self
    }

    /// This fake, set up beforehand, instead of a fresh one.
    pub fn fake(mut self, fake: F) -> Self {
        self.fake = Some(fake);
        self
    }

    /// These settings instead of the platform's.
    pub fn settings(mut self, settings: PlatformSettings) -> Self {
        self.settings = Some(settings);
        self
    }

    /// The database in this folder (a restart reuses the last run's).
    pub fn dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Ready once the HTTP endpoints answer, without waiting for the platform's connection
    /// (Socket Mode, the gateway): for a test of a connection that fails.
    pub fn started_only(mut self) -> Self {
        self.started_only = true;
        self
    }
}

/// Klaxon served in-process.
pub struct Bot<F> {
    /// Klaxon's base URL.
    pub url: String,
    pub fake: F,
    /// The database ([`crate::database::at`]).
    pub db: String,
    /// The clock Klaxon runs on when spawned with [`Options::manual_clock`] (else unused).
    pub clock: ManualClock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: Option<tempfile::TempDir>,
}

/// Serves Klaxon on `platform` with `options` and waits until it is ready.
pub async fn spawn<P: Platform>(platform: P, options: Options<P::Fake>) -> Bot<P::Fake> {
    match try_spawn(platform, options).await {
        Ok(bot) => bot,
        Err(e) => panic!("Klaxon did not start: {e}"),
    }
}

/// [`spawn`], or why start-up failed (Klaxon stops at once on a start-up error, such as a
/// paging channel it cannot see).
pub async fn try_spawn<P: Platform>(
    platform: P,
    options: Options<P::Fake>,
) -> Result<Bot<P::Fake>, String> {
    let fake = match options.fake {
        Some(fake) => fake,
        None => P::fake().await,
    };
    let dir = match options.dir {
        Some(dir) => dir,
        None => tempfile::tempdir().expect("tmp"),
    };
    let db = crate::database::at(dir.path(), "k.db").await;
    let store = Store::open(&db).await.expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut settings = options.settings.unwrap_or_else(|| platform.settings(&fake));
    if let Some(token) = &options.alerts_token {
        settings.alerts_token = Some(token.clone().into());
    }
    let config = options
        .config
        .unwrap_or_else(|| platform.config(&options.toml));
    let clock = ManualClock::new(crate::start_time());
    let runs_on: Arc<dyn Clock> = if options.manual_clock {
        Arc::new(clock.clone())
    } else {
        Arc::new(SystemClock)
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = config.clone();
    let mut done = tokio::spawn(serve_with_clock(
        store,
        config,
        settings,
        listener,
        async move {
            let _ = stopped.await;
        },
        runs_on,
    ));
    let health = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        reqwest::get(format!("{url}/healthz")),
    )
    .await
    .map_err(|_| "no answer within 20 s".to_owned())?;
    if health.is_err() {
        return match done.await {
            Ok(Err(e)) => Err(format!("{e:#}")),
            other => Err(format!("stopped: {other:?}")),
        };
    }
    if !options.started_only {
        platform.ready(&fake, &url, &served, &mut done).await;
    }
    Ok(Bot {
        url,
        fake,
        db,
        clock,
        stop: Some(stop),
        done: Some(done),
        dir: Some(dir),
    })
}

impl<F> Bot<F> {
    /// A second handle on the database, to read what Klaxon recorded.
    pub async fn store(&self) -> Store {
        Store::open(&self.db).await.expect("store")
    }

    /// Waits until every platform call Klaxon has queued is made (see [`settled`]).
    pub async fn settled(&self) {
        settled(&self.db).await;
    }

    /// Stops Klaxon as a shutdown signal would, waits for it to end cleanly and hands back
    /// the fake and the folder (the database outlives the process).
    pub async fn stop(mut self) -> (F, tempfile::TempDir) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("join").expect("serve ends cleanly");
        }
        let dir = self.dir.take().expect("the folder");
        (self.fake, dir)
    }
}

/// Waits (up to 10 s) until every platform call queued in the database at `db` is made. A
/// command, a click or an event is committed, its calls queued with it, before it is
/// answered: after this, nothing more comes of what the test sent before, and a count of calls
/// is final.
pub async fn settled(db: &str) {
    let store = Store::open(db).await.expect("store");
    let done = crate::wait::eventually(crate::wait::LIMIT, async || {
        let mut conn = store.read().await.expect("conn");
        klaxon::store::outbox::pending_count(&mut conn)
            .await
            .expect("count")
            == 0
    })
    .await;
    store.close().await;
    assert!(done, "platform calls still pending after 10 s");
}

/// `checklist = []` first unless `toml` sets the checklist.
fn without_checklist(toml: &str) -> String {
    if toml.contains("checklist") {
        toml.to_owned()
    } else {
        format!("checklist = []\n{toml}")
    }
}

/// A fixture under `tests/fixtures/`.
pub fn fixture(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

impl Platform for SlackHttp {
    type Fake = FakeSlack;

    async fn fake() -> FakeSlack {
        FakeSlack::start().await
    }

    fn settings(&self, fake: &FakeSlack) -> PlatformSettings {
        slack::settings(fake, false)
    }

    fn config(&self, toml: &str) -> Config {
        Config::parse(&without_checklist(toml)).expect("config")
    }

    async fn ready(
        &self,
        _: &FakeSlack,
        url: &str,
        _: &Config,
        _: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        crate::started(url).await;
    }
}

impl Platform for SlackSocket {
    type Fake = FakeSlack;

    async fn fake() -> FakeSlack {
        FakeSlack::start().await
    }

    fn settings(&self, fake: &FakeSlack) -> PlatformSettings {
        slack::settings(fake, true)
    }

    fn config(&self, toml: &str) -> Config {
        SlackHttp.config(toml)
    }

    async fn ready(
        &self,
        fake: &FakeSlack,
        url: &str,
        config: &Config,
        _: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        crate::started(url).await;
        let all = usize::try_from(config.slack.socket_connections).unwrap_or(usize::MAX);
        assert!(
            fake.until(|_| fake.open_sockets() == all).await,
            "Socket Mode's connections"
        );
    }
}

impl Platform for Discord {
    type Fake = FakeDiscord;

    async fn fake() -> FakeDiscord {
        FakeDiscord::start().await
    }

    fn settings(&self, fake: &FakeDiscord) -> PlatformSettings {
        discord::settings(fake)
    }

    fn config(&self, toml: &str) -> Config {
        discord::config(toml)
    }

    async fn ready(
        &self,
        fake: &FakeDiscord,
        _: &str,
        _: &Config,
        done: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        if !fake.until(FakeDiscord::connected).await {
            let why = if done.is_finished() {
                format!("{:?}", done.await)
            } else {
                "still running".to_owned()
            };
            panic!(
                "Klaxon never connected to the fake gateway ({why}): {:?}",
                fake.calls()
                    .iter()
                    .map(|c| format!("{} {}", c.method, c.path))
                    .collect::<Vec<_>>()
            );
        }
    }
}
