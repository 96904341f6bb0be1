//! Operability: `/metrics` parsed as Prometheus text with the expected series, logs that never
//! show a secret, and graceful shutdown that delivers every pending post.

use klaxon_tests::TestBot;
use klaxon_tests::spawn::{ALERTS_TOKEN, Options, SlackHttp, fixture, spawn};
use klaxon_tests::wait::{LIMIT, eventually};
use prometheus_parse::{Scrape, Value};

/// The calendar feeds' key in the no-secret-in-the-logs run.
const FEED_SECRET: &str = "feed-secret-9c41e7d2a0b6";

/// Parses exposition text, checking every line's shape on the way.
pub(crate) fn parse(text: &str) -> Scrape {
    let sample = regex_lite(text);
    assert!(sample.is_empty(), "malformed lines: {sample:?}");
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
}

/// Lines that are neither a comment (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`) nor
/// `name{label="value",…} number`.
fn regex_lite(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| {
            if let Some(rest) = line.strip_prefix("# ") {
                return !(rest.starts_with("HELP ")
                    || rest.starts_with("TYPE ")
                    || rest.starts_with("UNIT ")
                    || rest == "EOF");
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                return true;
            };
            let name_end = series.find('{').unwrap_or(series.len());
            let name = &series[..name_end];
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            let labels_ok = name_end == series.len()
                || (series.ends_with('}') && series[name_end..].contains("=\""));
            let value_ok = value.parse::<f64>().is_ok() || value == "+Inf";
            !(name_ok && labels_ok && value_ok)
        })
        .map(str::to_owned)
        .collect()
}

/// The value of a counter or gauge sample with these labels (all of them must match).
pub(crate) fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .find_map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
}

fn has_histogram(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> bool {
    scrape.samples.iter().any(|s| {
        s.metric == metric
            && matches!(&s.value, Value::Histogram(b) if !b.is_empty())
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
    })
}

#[tokio::test]
async fn metrics_count_commands_latency_open_incidents_reminders_and_calls() {
    let bot = TestBot::start().await;
    bot.ok("alice", "general", "/inc declare sev1 Payments down")
        .await;
    bot.refused("alice", "general", "/inc ack").await;
    bot.say("alice", "general", "/inc frobnicate").await;
    bot.ok("bob", "general", "/inc declare sev3 Slow search")
        .await;
    bot.settle().await;
    // SEV1 asks for an update every 15 minutes: one reminder falls due on the way.
    let fired = bot.advance("16m").await;
    assert!(!fired.is_empty());

    let text = klaxon::metrics::render(bot.store()).await.expect("render");
    let scrape = parse(&text);
    let at_least = |metric: &str, labels: &[(&str, &str)], n: f64| {
        let v = value(&scrape, metric, labels);
        assert!(
            v.is_some_and(|v| v >= n),
            "{metric}{labels:?} = {v:?}\n{text}"
        );
    };
    at_least(
        "klaxon_commands_total",
        &[("command", "declare"), ("outcome", "ok")],
        2.0,
    );
    at_least(
        "klaxon_commands_total",
        &[("command", "ack"), ("outcome", "user_error")],
        1.0,
    );
    at_least(
        "klaxon_commands_total",
        &[("command", "invalid"), ("outcome", "user_error")],
        1.0,
    );
    assert!(has_histogram(
        &scrape,
        "klaxon_command_duration_seconds",
        &[("platform", "console")]
    ));
    at_least(
        "klaxon_reminders_fired_total",
        &[("kind", "status_update"), ("posted", "true")],
        1.0,
    );
    assert!(has_histogram(
        &scrape,
        "klaxon_reminder_lateness_seconds",
        &[("kind", "status_update")]
    ));
    at_least(
        "klaxon_platform_calls_total",
        &[
            ("platform", "console"),
            ("method", "create_channel"),
            ("outcome", "ok"),
        ],
        2.0,
    );
    // The writer's figures are this store's: every write so far committed, in fewer COMMITs
    // or as many, none failed, none waiting now.
    let commits = value(&scrape, "klaxon_store_commits_total", &[]).expect("commits");
    let writes = value(&scrape, "klaxon_store_writes_committed_total", &[]).expect("writes");
    assert!(commits >= 1.0 && writes >= commits, "{commits} {writes}");
    assert_eq!(
        commits,
        bot.store().commits() as f64,
        "the store's own count"
    );
    assert_eq!(
        value(&scrape, "klaxon_store_commit_failures_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        value(&scrape, "klaxon_store_writes_waiting", &[]),
        Some(0.0)
    );
    // Open incidents are this database's, counted at scrape time.
    let open = |sev: &str| value(&scrape, "klaxon_open_incidents", &[("severity", sev)]);
    assert_eq!(open("SEV1"), Some(1.0), "{text}");
    assert_eq!(open("SEV2"), Some(0.0), "{text}");
    assert_eq!(open("SEV3"), Some(1.0), "{text}");
}

#[tokio::test]
async fn the_metrics_endpoint_serves_prometheus_text_with_alerts_and_rate_limits() {
    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(
                r#"
[[alerts.routes]]
targets = [{ platform = "slack", workspace = "T0TEAM", channel = "C0PAGING" }]
"#,
            )
            .alerts(Some(ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    // Slack answers the first call with a 429: the announcement is retried.
    k.fake.force([(429, Some(0))]);
    let firing = fixture("alertmanager/firing.json");
    k.alerts("/alerts/alertmanager", &firing).await;
    k.alerts("/alerts/alertmanager", &firing).await;
    assert!(
        k.fake
            .until(|calls| calls.iter().any(|c| c.method == "chat.update"))
            .await
    );
    let resp = reqwest::get(format!("{}/metrics", k.url))
        .await
        .expect("metrics");
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = resp.text().await.expect("text");
    let scrape = parse(&text);
    let v = |metric: &str, labels: &[(&str, &str)]| value(&scrape, metric, labels).unwrap_or(0.0);
    assert!(
        v(
            "klaxon_alerts_received_total",
            &[("endpoint", "alertmanager"), ("status", "firing")]
        ) >= 2.0,
        "{text}"
    );
    assert!(
        v(
            "klaxon_alerts_deduplicated_total",
            &[("endpoint", "alertmanager")]
        ) >= 1.0
    );
    assert!(
        v(
            "klaxon_platform_calls_total",
            &[
                ("platform", "slack"),
                ("method", "post_alert"),
                ("outcome", "rate_limited")
            ]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        v(
            "klaxon_platform_calls_total",
            &[
                ("platform", "slack"),
                ("method", "post_alert"),
                ("outcome", "ok")
            ]
        ) >= 1.0,
        "{text}"
    );
    for sev in ["SEV1", "SEV2", "SEV3", "SEV4"] {
        assert_eq!(
            value(&scrape, "klaxon_open_incidents", &[("severity", sev)]),
            Some(0.0)
        );
    }
    k.stop().await;
}

/// The real `klaxon` binary, built once.
fn klaxon_binary() -> std::path::PathBuf {
    klaxon_tests::binary::klaxon()
}

/// The real binary against the fake Slack, with every token set and trace logging in JSON:
/// SIGTERM while announcements are still pending delivers them all, closes the database with
/// nothing pending and exits 0; no token or secret appears anywhere in its output.
#[tokio::test]
async fn sigterm_delivers_pending_posts_and_exits_0_and_logs_show_no_secret() {
    use klaxon_tests::fake_slack::{self, APP_TOKEN, BOT_TOKEN, FakeSlack, SIGNING_SECRET};

    let bin = tokio::task::spawn_blocking(klaxon_binary)
        .await
        .expect("build");
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(
        &config,
        format!(
            "checklist = []\n[oncall]\ndir = {:?}\n[[alerts.routes]]\ntargets = [{{ platform = \"slack\", workspace = \"T0TEAM\", channel = \"C0PAGING\" }}]\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../oncall")
        ),
    )
    .expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("stderr.log");
    let out_path = dir.path().join("stdout.log");
    let mut child = std::process::Command::new(bin)
        .arg("run")
        .env_clear()
        .env("KLAXON_DATABASE_URL", &db)
        .env("KLAXON_CONFIG", &config)
        .env("KLAXON_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("SLACK_API_URL", &fake.api_url)
        .env("KLAXON_ALERTS_TOKEN", ALERTS_TOKEN)
        .env("KLAXON_FEED_SECRET", FEED_SECRET)
        .env("KLAXON_LOG_FORMAT", "json")
        .env("RUST_LOG", "trace")
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&log_path).expect("stderr file"))
        .spawn()
        .expect("start klaxon");
    let client = reqwest::Client::new();
    let up = eventually(LIMIT, async || {
        client
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert!(up, "klaxon did not become ready");

    // Traffic that touches every secret: a signed command, a badly signed one, alerts with the
    // right and a wrong token.
    let reply = fake_slack::slash(
        &url,
        &[
            ("team_id", "T0TEAM"),
            ("channel_id", "C0GENERAL"),
            ("channel_name", "general"),
            ("user_id", "U0ALICE"),
            ("user_name", "alice"),
            ("command", "/inc"),
            ("text", "declare sev2 Shutdown drill"),
            ("trigger_id", "trig-shutdown-1"),
        ],
    )
    .await;
    assert_eq!(reply.status().as_u16(), 200);
    let forged = fake_slack::send(&url, "text=hi", Some(("v0=00".to_owned(), 0))).await;
    assert_eq!(forged.status().as_u16(), 401);
    let wrong = client
        .post(format!("{url}/alerts/webhook"))
        .bearer_auth("not-the-token")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(
        fake.until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await,
        "the declare's calls went out"
    );
    // A calendar feed: its address from `klaxon oncall feed` beside the running bot, asked
    // with its token and with a wrong one.
    let issued = std::process::Command::new(klaxon_binary())
        .args(["oncall", "feed", "payments"])
        .env_clear()
        .env("KLAXON_DATABASE_URL", &db)
        .env("KLAXON_CONFIG", &config)
        .env("KLAXON_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("KLAXON_FEED_SECRET", FEED_SECRET)
        .output()
        .expect("klaxon oncall feed");
    let issued_out = String::from_utf8_lossy(&issued.stdout).into_owned();
    assert!(
        issued.status.success(),
        "{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let address = issued_out.lines().next().unwrap_or_default().to_owned();
    assert!(
        address.starts_with(&format!("{url}/oncall/payments.ics?token=")),
        "{issued_out}"
    );
    assert!(!issued_out.contains(FEED_SECRET), "{issued_out}");
    let feed = client.get(&address).send().await.expect("feed");
    assert_eq!(feed.status().as_u16(), 200);
    assert!(
        feed.text()
            .await
            .expect("body")
            .starts_with("BEGIN:VCALENDAR")
    );
    let wrong_feed = client
        .get(format!(
            "{url}/oncall/payments.ics?token={}",
            "ab".repeat(32)
        ))
        .send()
        .await
        .expect("feed");
    assert_eq!(wrong_feed.status().as_u16(), 404);

    // An internal error: the reply's ref is the correlation id on the failure's log line.
    let side = klaxon::store::Store::open(db.to_str().expect("utf-8"))
        .await
        .expect("store");
    let rename = async |from: &str, to: &str| {
        let mut conn = side.begin().await.expect("begin");
        sqlx::query(&format!("ALTER TABLE {from} RENAME TO {to}"))
            .execute(&mut *conn)
            .await
            .expect("rename");
        conn.commit().await.expect("commit");
    };
    rename("timeline", "timeline_gone").await;
    let broken: serde_json::Value = fake_slack::slash(
        &url,
        &[
            ("team_id", "T0TEAM"),
            ("channel_id", "C0GENERAL"),
            ("channel_name", "general"),
            ("user_id", "U0ALICE"),
            ("user_name", "alice"),
            ("command", "/inc"),
            ("text", "declare sev2 Broken store"),
            ("trigger_id", "trig-shutdown-2"),
        ],
    )
    .await
    .json()
    .await
    .expect("json");
    rename("timeline_gone", "timeline").await;
    side.close().await;
    let shown = broken["text"].as_str().unwrap_or("").to_owned();
    let correlation = shown
        .split("(ref ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no ref in {shown}"))
        .to_owned();
    assert_eq!(correlation.len(), 8, "{shown}");

    // A slow Slack: each call takes 300 ms, so most announcements are still pending at SIGTERM.
    fake.set_latency(std::time::Duration::from_millis(300));
    let alerts: Vec<serde_json::Value> = (1..=5)
        .map(|n| serde_json::json!({ "title": format!("Drill alert {n}"), "fingerprint": format!("drill-{n}") }))
        .collect();
    let resp = client
        .post(format!("{url}/alerts/webhook"))
        .bearer_auth(ALERTS_TOKEN)
        .body(serde_json::Value::Array(alerts).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 200);
    let announced = |fake: &FakeSlack| {
        fake.calls_to("chat.postMessage")
            .iter()
            .filter(|b| b["channel"] == "C0PAGING")
            .count()
    };
    let pid = i32::try_from(child.id()).expect("pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    assert!(
        announced(&fake) < 5,
        "announcements were pending at SIGTERM"
    );
    let status = tokio::task::spawn_blocking(move || {
        let mut status = None;
        klaxon_tests::wait::blocking_until(std::time::Duration::from_secs(15), || {
            status = child.try_wait().expect("wait");
            status.is_some()
        });
        if status.is_none() {
            let _ = child.kill();
        }
        status
    })
    .await
    .expect("join")
    .expect("klaxon exits within 15 s of SIGTERM");
    let logs = std::fs::read_to_string(&log_path).expect("logs");
    assert!(status.success(), "exit {status:?}\n{}", tail(&logs));
    assert_eq!(
        announced(&fake),
        5,
        "every pending announcement was delivered"
    );
    let store = klaxon::store::Store::open(db.to_str().expect("utf-8"))
        .await
        .expect("store");
    let mut conn = store.read().await.expect("conn");
    let pending = klaxon::store::outbox::pending_count(&mut conn)
        .await
        .expect("count");
    assert_eq!(pending, 0);

    // The logs: JSON lines, a command span with its correlation id, and no secret anywhere.
    let out = std::fs::read_to_string(&out_path).expect("stdout");
    assert!(logs.lines().count() > 20, "trace logging was on");
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    let events: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let failure = events
        .iter()
        .find(|e| e["fields"]["message"] == "command failed")
        .expect("the internal error is logged");
    assert_eq!(failure["span"]["name"], "command", "{failure}");
    assert_eq!(failure["span"]["id"], correlation.as_str(), "{failure}");
    assert!(
        failure["fields"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("no such table: timeline"),
        "the cause is logged: {failure}"
    );
    let feed_token = address.split("token=").nth(1).unwrap_or("no token");
    for secret in [
        BOT_TOKEN,
        SIGNING_SECRET,
        APP_TOKEN,
        ALERTS_TOKEN,
        FEED_SECRET,
        feed_token,
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
        assert!(!out.contains(secret), "{secret} leaked onto stdout");
    }
    // Not even a recognisable piece of one.
    for piece in [
        "xoxb-",
        "xapp-",
        &SIGNING_SECRET[..12],
        &ALERTS_TOKEN[..12],
        &FEED_SECRET[..12],
    ] {
        assert!(!logs.contains(piece), "{piece} leaked into the logs");
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
