//! Test harness: a bot on a fresh database (SQLite, or PostgreSQL: [`database`]) with a manual
//! clock, and fake platforms.
//!
//! `Recorder` is a platform that records every call the outbox makes (and can be told to fail),
//! for engine-level tests; fake Slack and Discord servers on 127.0.0.1 speak the platforms' wire formats.

pub mod binary;
pub mod database;
pub mod fake_discord;
pub mod fake_slack;
pub mod postgres;
pub mod process;
pub mod recorder;
pub mod scenario;
pub mod spawn;
pub mod target;
pub mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use klaxon::app::App;
use klaxon::clock::ManualClock;
use klaxon::config::Config;
use klaxon::store::Store;
use klaxon_commands::{
    ChannelRef, ChatApi, Input, Invocation, PlatformKind, Reply, ReplyKind, Tenant, UserRef,
};

pub use recorder::{Call, Recorder};

/// Secrets for runbook actions, from a map (tests never touch the process environment).
#[derive(Debug, Clone, Default)]
pub struct MapSecrets(pub std::collections::HashMap<String, String>);

impl klaxon::runbooks::request::Secrets for MapSecrets {
    fn get(&self, name: &str) -> Option<secrecy::SecretString> {
        self.0.get(name).cloned().map(secrecy::SecretString::from)
    }
}

/// Waits until a served Klaxon at `url` answers (start-up, such as resolving Slack channel
/// names, is over); panics if it stopped instead.
pub async fn started(url: &str) {
    let health = reqwest::get(format!("{url}/healthz"));
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), health)
        .await
        .expect("Klaxon answers within 20 s")
        .expect("Klaxon started (it stops at once on a start-up error)");
    assert_eq!(answer.status().as_u16(), 200);
}

/// The instant every test starts at: a Monday morning, UTC.
pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

/// A bot on its own database, a manual clock and a recording platform.
pub struct TestBot {
    pub app: App,
    pub clock: ManualClock,
    pub api: Arc<Recorder>,
    pub config: Config,
    /// Its database: a SQLite file's path or a PostgreSQL URL ([`database::at`]).
    pub db: String,
    pub tenant: Tenant,
    pub secrets: MapSecrets,
    /// How runbook actions resolve host names (the system's unless a test gives a table).
    pub resolver: Arc<dyn klaxon::runbooks::allow::Resolve>,
    _dir: Arc<tempfile::TempDir>,
}

impl TestBot {
    pub async fn start() -> Self {
        Self::with_config(Config::default()).await
    }

    pub async fn with_config(config: Config) -> Self {
        Self::on_platform(config, Tenant::new(PlatformKind::Console, "local")).await
    }

    /// A bot whose recording platform stands for `tenant`'s platform (Discord, say), so that
    /// per-platform settings apply; `say` speaks as that tenant.
    pub async fn on_platform(config: Config, tenant: Tenant) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let clock = ManualClock::new(start_time());
        let mut bot = Self::build(
            dir,
            clock,
            Arc::new(Recorder::default()),
            config,
            MapSecrets::default(),
            Arc::new(klaxon::runbooks::allow::SystemResolver),
            tenant.platform,
        )
        .await;
        bot.tenant = tenant;
        bot
    }

    /// One replica of several on the shared database `db` (a PostgreSQL URL): its own engine,
    /// scheduler and dispatcher, claiming calls as `owner`, on the clock and platform the
    /// replicas share, as separate `klaxon run` processes on one database would be.
    pub async fn replica(
        db: &str,
        clock: ManualClock,
        api: Arc<Recorder>,
        config: Config,
        owner: &str,
    ) -> Self {
        let mut bot = Self::build_on(
            db.to_owned(),
            Arc::new(tempfile::tempdir().expect("temp dir")),
            clock,
            api,
            config,
            MapSecrets::default(),
            Arc::new(klaxon::runbooks::allow::SystemResolver),
            PlatformKind::Console,
            Some(owner),
        )
        .await;
        bot.tenant = Tenant::new(PlatformKind::Console, "local");
        bot
    }

    /// A bot on `dir`'s `klaxon.db`.
    async fn build(
        dir: Arc<tempfile::TempDir>,
        clock: ManualClock,
        api: Arc<Recorder>,
        config: Config,
        secrets: MapSecrets,
        resolver: Arc<dyn klaxon::runbooks::allow::Resolve>,
        platform: PlatformKind,
    ) -> Self {
        let db = database::at(dir.path(), "klaxon.db").await;
        Self::build_on(
            db, dir, clock, api, config, secrets, resolver, platform, None,
        )
        .await
    }

    /// A bot on the database `db`, its dispatcher claiming calls as `owner` (the process's
    /// replica id when `None`).
    #[expect(clippy::too_many_arguments, reason = "the harness's one constructor")]
    async fn build_on(
        db: String,
        dir: Arc<tempfile::TempDir>,
        clock: ManualClock,
        api: Arc<Recorder>,
        config: Config,
        secrets: MapSecrets,
        resolver: Arc<dyn klaxon::runbooks::allow::Resolve>,
        platform: PlatformKind,
        owner: Option<&str>,
    ) -> Self {
        let store = Store::open(&db).await.expect("open store");
        let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
        apis.insert(platform, api.clone());
        let app = App::with_runbook_io(
            store,
            config.clone(),
            Arc::new(clock.clone()),
            apis,
            klaxon::app::RunbookIo {
                secrets: Arc::new(secrets.clone()),
                resolver: Arc::clone(&resolver),
            },
        )
        .expect("app");
        let app = match owner {
            Some(owner) => app.with_owner(owner).expect("a dispatcher of its own"),
            None => app,
        };
        app.recover().await.expect("recover");
        Self {
            app,
            clock,
            api,
            config,
            db,
            tenant: Tenant::new(platform, "local"),
            secrets,
            resolver,
            _dir: dir,
        }
    }

    /// Stops this bot (pending platform calls stay in the database) and starts another on the
    /// same database, clock and platform, as a process restart would.
    pub async fn restart(self) -> Self {
        self.app.store.close().await;
        let tenant = self.tenant.clone();
        let mut bot = Self::build(
            self._dir,
            self.clock,
            self.api,
            self.config,
            self.secrets,
            self.resolver,
            tenant.platform,
        )
        .await;
        bot.tenant = tenant;
        bot
    }

    /// A bot whose `[runbooks] dir` holds `files` (name, TOML), with `config` (TOML) around
    /// it, `secrets` for its actions and `allowed_hosts` (a TOML array, e.g. from
    /// [`target::Target::allow`]).
    pub async fn with_runbooks(
        config: &str,
        files: &[(&str, &str)],
        secrets: &[(&str, &str)],
        allowed_hosts: &str,
    ) -> Self {
        Self::with_runbooks_resolving(
            config,
            files,
            secrets,
            allowed_hosts,
            Arc::new(klaxon::runbooks::allow::SystemResolver),
        )
        .await
    }

    /// The same, resolving host names with `resolver`.
    pub async fn with_runbooks_resolving(
        config: &str,
        files: &[(&str, &str)],
        secrets: &[(&str, &str)],
        allowed_hosts: &str,
        resolver: Arc<dyn klaxon::runbooks::allow::Resolve>,
    ) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let rb = dir.path().join("runbooks");
        std::fs::create_dir(&rb).expect("runbooks dir");
        for (name, text) in files {
            std::fs::write(rb.join(name), text).expect("write runbook");
        }
        let config = Config::parse(&format!(
            "{config}\n[runbooks]\ndir = {:?}\nallowed_hosts = {allowed_hosts}\n",
            rb.to_str().expect("utf-8")
        ))
        .expect("config");
        let secrets = MapSecrets(
            secrets
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        Self::build(
            dir,
            ManualClock::new(start_time()),
            Arc::new(Recorder::default()),
            config,
            secrets,
            resolver,
            PlatformKind::Console,
        )
        .await
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// `user` types `/inc <text>` in `channel` (console tenant).
    pub async fn say(&self, user: &str, channel: &str, text: &str) -> Reply {
        self.invoke(&self.tenant.clone(), user, channel, text, None)
            .await
    }

    /// The same, in any tenant and with an optional platform delivery id.
    pub async fn invoke(
        &self,
        tenant: &Tenant,
        user: &str,
        channel: &str,
        text: &str,
        delivery_id: Option<&str>,
    ) -> Reply {
        self.app
            .engine
            .handle(Invocation {
                tenant: tenant.clone(),
                channel: ChannelRef::new(channel, channel),
                user: UserRef::named(user, user),
                input: Input::Text(text.to_owned()),
                incident: None,
                delivery_id: delivery_id.map(str::to_owned),
            })
            .await
    }

    /// `say`, asserting success; returns the reply's text.
    pub async fn ok(&self, user: &str, channel: &str, text: &str) -> String {
        let reply = self.say(user, channel, text).await;
        assert_eq!(reply.kind, ReplyKind::Ok, "{text:?} → {}", reply.to_plain());
        reply.to_plain()
    }

    /// `say`, asserting a refusal; returns the reply's text.
    pub async fn refused(&self, user: &str, channel: &str, text: &str) -> String {
        let reply = self.say(user, channel, text).await;
        assert_eq!(
            reply.kind,
            ReplyKind::UserError,
            "{text:?} → {}",
            reply.to_plain()
        );
        reply.to_plain()
    }

    /// Fires every reminder due now and makes every platform call that is due.
    pub async fn settle(&self) {
        self.app.settle().await.expect("settle");
    }

    /// Settles until `check` holds on the recorded calls (at most 10 s): for a call the
    /// outbox postponed, whose retry backoff runs on real time.
    pub async fn settle_until(&self, check: impl Fn(&Recorder) -> bool) -> bool {
        wait::eventually(wait::LIMIT, async || {
            self.settle().await;
            check(&self.api)
        })
        .await
    }

    /// Moves the clock forward, firing what falls due on the way, in order.
    pub async fn advance(&self, by: &str) -> Vec<klaxon::scheduler::Fired> {
        let by = klaxon_commands::Duration::parse(by).expect("duration");
        self.app
            .advance(&self.clock, by.as_std())
            .await
            .expect("advance")
    }

    /// The channel the platform created for incident `number` of the console tenant.
    pub async fn channel_of(&self, number: i64) -> String {
        let mut conn = self.store().read().await.expect("conn");
        let incident = klaxon::store::incidents::by_number(&mut conn, &self.tenant, number)
            .await
            .expect("query")
            .expect("incident exists");
        incident.channel_id.expect("channel created")
    }

    /// Row counts of every table, to show that a refused command changed nothing.
    pub async fn counts(&self) -> Vec<(String, i64)> {
        let mut conn = self.store().read().await.expect("conn");
        let mut out = Vec::new();
        for table in [
            "incidents",
            "roles",
            "timeline",
            "posts",
            "outbox",
            "deliveries",
        ] {
            let n = klaxon::store::count_rows(&mut conn, table)
                .await
                .expect("count");
            out.push((table.to_owned(), n));
        }
        out
    }
}
