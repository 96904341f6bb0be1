//! Klaxon's `serve` in-process against the fake Slack (signed HTTP mode) on a manual clock,
//! with alert intake: the harness of the alert and operability tests.

use std::path::PathBuf;
use std::sync::Arc;

use klaxon::app::{PlatformSettings, serve_with_clock};
use klaxon::clock::ManualClock;
use klaxon::config::Config;
use klaxon::store::Store;

use crate::fake_slack::{self, BOT_TOKEN, FakeSlack, SIGNING_SECRET};

/// The bearer token alert senders use in tests.
pub const ALERTS_TOKEN: &str = "alerts-test-token-5f1c";

pub struct Served {
    /// Klaxon's base URL.
    pub url: String,
    pub fake: FakeSlack,
    pub db: PathBuf,
    pub clock: ManualClock,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Serves with `config` (TOML; the checklist is off unless it says otherwise) and, when
    /// `token` is set, alert intake on.
    pub async fn start(config: &str, token: Option<&str>) -> Self {
        Self::start_mode(config, token, false).await
    }

    /// The same over Socket Mode instead of signed HTTP.
    pub async fn start_socket(config: &str, token: Option<&str>) -> Self {
        let k = Self::start_mode(config, token, true).await;
        assert!(k.fake.until(|_| k.fake.connected()).await, "Socket Mode");
        k
    }

    async fn start_mode(config: &str, token: Option<&str>, socket: bool) -> Self {
        let fake = FakeSlack::start().await;
        let dir = tempfile::tempdir().expect("tmp");
        let db = dir.path().join("k.db");
        let store = Store::open(db.to_str().expect("utf-8"))
            .await
            .expect("store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let settings = PlatformSettings {
            slack_bot_token: Some(BOT_TOKEN.to_owned().into()),
            slack_signing_secret: (!socket).then(|| SIGNING_SECRET.to_owned().into()),
            slack_app_token: socket.then(|| fake_slack::APP_TOKEN.to_owned().into()),
            slack_api_url: Some(fake.api_url.clone()),
            http_addr: String::new(),
            alerts_token: token.map(|t| t.to_owned().into()),
            ..PlatformSettings::default()
        };
        let config = if config.contains("checklist") {
            config.to_owned()
        } else {
            format!("checklist = []\n{config}")
        };
        let config = Config::parse(&config).expect("config");
        let clock = ManualClock::new(crate::start_time());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(serve_with_clock(
            store,
            config,
            settings,
            listener,
            async move {
                let _ = stopped.await;
            },
            Arc::new(clock.clone()),
        ));
        crate::started(&url).await;
        Self {
            url,
            fake,
            db,
            clock,
            stop: Some(stop),
            done: Some(done),
            _dir: dir,
        }
    }

    /// Posts `body` to `path` (`/alerts/alertmanager`, `/alerts/webhook`) with a bearer token.
    pub async fn post(&self, path: &str, body: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("klaxon answers")
    }

    /// Posts alerts with the right token and returns the JSON answer, asserting a 200.
    pub async fn alerts(&self, path: &str, body: &str) -> serde_json::Value {
        let resp = self.post(path, body, Some(ALERTS_TOKEN)).await;
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("json")
    }

    /// A signed click on the Declare button of alert `alert`, by `user`.
    pub async fn click_declare(&self, alert: i64, user: &str, trigger: &str) -> u16 {
        let mut payload = self.fake.click("declare", 0, user, "C0PAGING", trigger);
        payload["actions"][0]["value"] = format!("0:{alert}").into();
        fake_slack::interact(&self.url, &payload)
            .await
            .status()
            .as_u16()
    }

    /// The same click over Socket Mode; the payload Klaxon acknowledged it with.
    pub async fn socket_click_declare(
        &self,
        alert: i64,
        user: &str,
        trigger: &str,
    ) -> serde_json::Value {
        let mut payload = self.fake.click("declare", 0, user, "C0PAGING", trigger);
        payload["actions"][0]["value"] = format!("0:{alert}").into();
        self.fake.socket_envelope("interactive", payload).await
    }

    /// A second handle on the database, to read what Klaxon recorded.
    pub async fn store(&self) -> Store {
        Store::open(self.db.to_str().expect("utf-8"))
            .await
            .expect("store")
    }

    /// Stops Klaxon as a shutdown signal would and waits for it to end cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("join").expect("serve ends cleanly");
        }
    }
}

/// A fixture under `tests/fixtures/`.
pub fn fixture(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}
