//! Operability: `/metrics` parsed as Prometheus text with the expected series, logs that never
//! show a secret, and graceful shutdown that delivers every pending post.

use klaxon_tests::TestBot;
use klaxon_tests::served::{ALERTS_TOKEN, Served, fixture};
use prometheus_parse::{Scrape, Value};

/// Parses exposition text, checking every line's shape on the way.
fn parse(text: &str) -> Scrape {
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
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
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
    // Open incidents are this database's, counted at scrape time.
    let open = |sev: &str| value(&scrape, "klaxon_open_incidents", &[("severity", sev)]);
    assert_eq!(open("SEV1"), Some(1.0), "{text}");
    assert_eq!(open("SEV2"), Some(0.0), "{text}");
    assert_eq!(open("SEV3"), Some(1.0), "{text}");
}

#[tokio::test]
async fn the_metrics_endpoint_serves_prometheus_text_with_alerts_and_rate_limits() {
    let k = Served::start(
        r#"
[[alerts.routes]]
targets = [{ platform = "slack", workspace = "T0TEAM", channel = "C0PAGING" }]
"#,
        Some(ALERTS_TOKEN),
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
