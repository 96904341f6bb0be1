//! The pages in a real browser: Debian's headless Chromium driven through chromedriver with
//! fantoccini (WebDriver). Each page of the scripted incident is loaded and checked, the
//! Mermaid diagram must be drawn as SVG, the browser console must hold no error, every request
//! must go to the bot, and a screenshot of each page is saved under
//! `target/browser-screenshots/`. A link from chat signs in once in the browser too, with a
//! strict HttpOnly cookie the page's scripts cannot read. `scripts/test`, the README's test command, installs Chromium
//! and chromedriver when they are missing.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{ClientBuilder, Locator};

use klaxon::config::Config;
use klaxon::web::Access;
use klaxon_commands::{PlatformKind, Tenant};
use klaxon_tests::TestBot;

use super::{Site, open, scripted};

/// chromedriver on a port of its own, ended when dropped.
struct Driver {
    url: String,
    _child: tokio::process::Child,
}

async fn driver() -> Driver {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let child = tokio::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        // A zone other than UTC, so the pages add the local time beside each UTC one.
        .env("TZ", "Europe/Berlin")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver is missing: scripts/test installs Debian's chromium-driver");
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    assert!(
        klaxon_tests::wait::eventually(Duration::from_secs(20), async || {
            reqwest::get(&status).await.is_ok()
        })
        .await,
        "chromedriver starts"
    );
    Driver { url, _child: child }
}

/// The browser console's entries since the last call (chromedriver's log endpoint).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

fn screenshots() -> std::path::PathBuf {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// A headless Chromium session with a profile of its own (kept while the client lives) and the
/// browser console recorded.
async fn chromium(driver: &Driver) -> (fantoccini::Client, tempfile::TempDir) {
    let profile = tempfile::tempdir().expect("profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1200,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    caps.insert(
        "goog:loggingPrefs".to_owned(),
        serde_json::json!({ "browser": "ALL" }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");
    (client, profile)
}

#[tokio::test]
async fn every_page_renders_in_chromium_with_the_diagram_and_nothing_from_elsewhere() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, open()).await;
    let driver = driver().await;
    let (client, _profile) = chromium(&driver).await;
    let pages: [(&str, &str, &str); 4] = [
        ("incidents", "/incidents", "Payments API timing out"),
        (
            "incident",
            "/incidents/1",
            "Failed over to the secondary region",
        ),
        (
            "postmortem",
            "/incidents/1/postmortem",
            "Retry removed in deploy 1234",
        ),
        ("insights", "/insights", "Overdue follow-ups"),
    ];
    let mut failures = Vec::new();
    for (name, path, expected) in pages {
        client
            .goto(&format!("{}{path}", site.url))
            .await
            .expect("page loads");
        let text = client
            .find(Locator::Css("main"))
            .await
            .expect("main")
            .text()
            .await
            .expect("text");
        assert!(
            text.contains(expected),
            "{path}: {expected:?} not in {text}"
        );
        assert!(!text.contains("Secret acquisition"), "{path}: {text}");
        if name == "postmortem" {
            client
                .wait()
                .at_most(Duration::from_secs(20))
                .for_element(Locator::Css("pre.mermaid svg"))
                .await
                .expect("the Mermaid diagram is drawn as SVG");
            let state = client
                .execute("return document.body.dataset.diagram || '';", vec![])
                .await
                .expect("script");
            assert_eq!(state, "drawn", "{path}");
        }
        if name == "insights" {
            let drawn = client
                .execute(
                    "return [...document.images].every(i => i.complete && i.naturalWidth > 0);",
                    vec![],
                )
                .await
                .expect("script");
            assert_eq!(drawn, true, "the SVG charts load");
        }
        // The browser added the viewer's local time beside the UTC times.
        let local = client
            .execute(
                "return document.querySelectorAll('span.local').length;",
                vec![],
            )
            .await
            .expect("script");
        assert!(
            local.as_u64().unwrap_or(0) > 0,
            "{path}: no local time shown"
        );
        // Every request went to the bot.
        let requests = client
            .execute(
                "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)];",
                vec![],
            )
            .await
            .expect("script");
        for url in requests.as_array().expect("list") {
            let url = url.as_str().unwrap_or_default();
            assert!(url.starts_with(&site.url), "{path} requested {url}");
        }
        let log = client.issue_cmd(BrowserLog).await.expect("browser log");
        for entry in log.as_array().cloned().unwrap_or_default() {
            if entry["level"] == "SEVERE" || entry["level"] == "WARNING" {
                failures.push(format!("{path}: {entry}"));
            }
        }
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(screenshots().join(format!("{name}.png")), png).expect("save screenshot");
    }
    client.close().await.expect("close");
    assert!(failures.is_empty(), "console messages: {failures:#?}");
}

#[tokio::test]
async fn a_link_from_chat_signs_in_once_in_chromium_with_a_strict_http_only_cookie() {
    let config = Config::parse(
        "checklist = []\n[web]\nenabled = true\npublic_url = \"http://pages.example\"\n",
    )
    .expect("config");
    let bot = TestBot::on_platform(config.clone(), Tenant::new(PlatformKind::Slack, "T1")).await;
    bot.ok("alice", "general", "/inc declare sev2 Checkout errors")
        .await;
    bot.settle().await;
    let site = Site::open(&bot, Access::configured(&config.web)).await;
    let reply = bot.ok("alice", "general", "/inc web").await;
    let token = reply
        .split("http://pages.example/signin?token=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a link")
        .to_owned();
    let link = format!("{}/signin?token={token}", site.url);
    let driver = driver().await;
    let (client, _profile) = chromium(&driver).await;

    // Without a session the pages ask to sign in.
    client
        .goto(&format!("{}/incidents", site.url))
        .await
        .expect("loads");
    let text = client
        .find(Locator::Css("h1"))
        .await
        .expect("h1")
        .text()
        .await
        .expect("text");
    assert!(text.contains("Sign in first"), "{text}");

    // The link opens a page with a button; pressing it signs in and shows the incidents.
    client.goto(&link).await.expect("the link opens");
    client
        .find(Locator::Css("form button[type=submit]"))
        .await
        .expect("a Sign in button")
        .click()
        .await
        .expect("click");
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_url(&url::Url::parse(&format!("{}/incidents", site.url)).expect("url"))
        .await
        .expect("signed in, on to the incidents");
    let main = client
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text");
    assert!(main.contains("Signed in as @alice"), "{main}");
    assert!(main.contains("Checkout errors"), "{main}");

    // The browser holds one strict, HttpOnly session cookie, out of the page scripts' reach.
    let cookies = client.get_all_cookies().await.expect("cookies");
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert_eq!(cookie.name(), "klaxon_session");
    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Strict"),
        "{cookie:?}"
    );
    assert_ne!(cookie.secure(), Some(true), "plain http: {cookie:?}");
    let seen = client
        .execute("return document.cookie;", vec![])
        .await
        .expect("script");
    assert_eq!(seen, "", "scripts cannot read the session");

    // The same link again is refused, and the session goes on.
    client.goto(&link).await.expect("loads");
    let again = client
        .find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text");
    assert!(again.contains("used already or has expired"), "{again}");
    assert!(
        client
            .find(Locator::Css("form button[type=submit]"))
            .await
            .is_err(),
        "no button for a used link"
    );
    client
        .goto(&format!("{}/incidents", site.url))
        .await
        .expect("loads");
    let main = client
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text");
    assert!(main.contains("Signed in as @alice"), "{main}");
    let log = client.issue_cmd(BrowserLog).await.expect("browser log");
    let errors: Vec<_> = log
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["level"] == "SEVERE" && !e["message"].as_str().unwrap_or("").contains("401"))
        .filter(|e| !e["message"].as_str().unwrap_or("").contains("400"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join("signed-in.png"), png).expect("save screenshot");
    client.close().await.expect("close");
}
