//! An incident declared from an alert shows that alert on its page: source, title (escaped),
//! severity, state, how often it fired, when it was first and last seen, and its link when
//! the link is http or https.

use klaxon::config::Config;
use klaxon_commands::PlatformKind;
use klaxon_tests::TestBot;

use super::{Site, open};

#[tokio::test]
async fn an_incident_declared_from_an_alert_shows_the_alert_on_its_page() {
    let config = Config::parse(
        r#"
checklist = []
[[alerts.routes]]
auto_declare = true
targets = [{ platform = "console", workspace = "local", channel = "alerts" }]
"#,
    )
    .expect("config");
    let bot = TestBot::with_config(config).await;
    let platforms = [PlatformKind::Console].into_iter().collect();
    let ingest = |body: &'static str| {
        let alerts = klaxon::alerts::parse_webhook(body.as_bytes()).expect("alert");
        let engine = &bot.app.engine;
        let platforms = &platforms;
        async move {
            engine
                .ingest_alerts("webhook", alerts, platforms)
                .await
                .expect("ingest")
        }
    };
    let queue = r#"{"title":"Queue <b>backlog</b> & growing","severity":"sev2","source":"grafana","fingerprint":"q1","link":"https://grafana.example/d/queue?x=1&y=2"}"#;
    ingest(queue).await;
    bot.advance("5m").await;
    // Alertmanager says it again: the same alert, fired twice, last seen five minutes on.
    ingest(queue).await;
    ingest(r#"{"title":"Disk almost full","fingerprint":"d1","link":"javascript:alert(1)"}"#).await;
    bot.settle().await;
    let site = Site::open(&bot, open()).await;

    let body = site.page("/incidents/1").await;
    for expected in [
        "<h2>Alerts</h2>",
        "<td>grafana</td>",
        "href=\"https://grafana.example/d/queue?x=1&amp;y=2\"",
        "Queue &lt;b&gt;backlog&lt;/b&gt; &amp; growing</a>",
        "<td>SEV2</td>",
        "<td>firing</td>",
        "<td>2×</td>",
        "2026-11-23 09:00:00 UTC",
        "2026-11-23 09:05:00 UTC",
    ] {
        assert!(body.contains(expected), "{expected:?} missing from {body}");
    }
    assert!(!body.contains("<b>backlog"), "{body}");
    assert!(!body.contains("Not declared from an alert."), "{body}");
    // The timeline says who declared it: the alert.
    assert!(body.contains("<td>declared</td>"), "{body}");

    // A link that is not http or https is shown as text, never as a link.
    let body = site.page("/incidents/2").await;
    assert!(body.contains("<td>Disk almost full</td>"), "{body}");
    assert!(!body.contains("href=\"javascript:"), "{body}");
}
