//! Alert intake over HTTP against the fake Slack: the bearer token and fail-closed default,
//! malformed and oversized bodies, routing, deduplication by fingerprint, the "Declare
//! incident" button, auto-declare, resolved alerts and the postmortem's "detected by".

use klaxon::store;
use klaxon_commands::{PlatformKind, Tenant};
use klaxon_tests::fake_slack::FakeSlack;
use klaxon_tests::spawn::{ALERTS_TOKEN, Bot, Options, SlackHttp, SlackSocket, fixture, spawn};
use serde_json::Value;

const CONFIG: &str = r#"
[incidents]
paging_channel = "C0INCIDENTS"

[[alerts.routes]]
name = "payments"
match = { team = "payments" }
targets = [{ platform = "slack", workspace = "T0TEAM", channel = "C0PAGING" }]

[[alerts.routes]]
name = "search"
match = { team = "search" }
auto_declare = true
targets = [
  { platform = "discord", workspace = "G1", channel = "42" },
  { platform = "slack", workspace = "T0TEAM", channel = "C0SEARCH" },
]
"#;

fn team() -> Tenant {
    Tenant::new(PlatformKind::Slack, "T0TEAM")
}

/// Posts to `channel`, in order.
fn posts_in(k: &Bot<FakeSlack>, channel: &str) -> Vec<Value> {
    k.fake
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|b| b["channel"] == channel)
        .collect()
}

fn updates_in(k: &Bot<FakeSlack>, channel: &str) -> Vec<Value> {
    k.fake
        .calls_to("chat.update")
        .into_iter()
        .filter(|b| b["channel"] == channel)
        .collect()
}

/// The action ids of a Block Kit message's buttons.
fn buttons(body: &Value) -> Vec<String> {
    let blocks = match &body["blocks"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_owned))
        .collect()
}

async fn timeline(k: &Bot<FakeSlack>, number: i64) -> Vec<store::timeline::Entry> {
    let s = k.store().await;
    let mut conn = s.read().await.expect("conn");
    let incident = store::incidents::by_number(&mut conn, &team(), number)
        .await
        .expect("query")
        .expect("incident");
    store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
}

#[tokio::test]
async fn intake_is_off_without_a_token_and_refuses_wrong_tokens_and_bad_bodies() {
    let off = spawn(
        SlackHttp,
        Options::default().toml(CONFIG).alerts(None).manual_clock(),
    )
    .await;
    let firing = fixture("alertmanager/firing.json");
    for path in ["/alerts/alertmanager", "/alerts/webhook"] {
        let resp = off.post(path, &firing, Some(ALERTS_TOKEN)).await;
        assert_eq!(resp.status().as_u16(), 404, "{path} must be off");
    }
    off.stop().await;

    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(CONFIG)
            .alerts(Some(ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    let path = "/alerts/alertmanager";
    assert_eq!(k.post(path, &firing, None).await.status().as_u16(), 401);
    let wrong = k.post(path, &firing, Some("alerts-test-token-5f1d")).await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(
        wrong
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let malformed = k.post(path, "{\"version\":", Some(ALERTS_TOKEN)).await;
    assert_eq!(malformed.status().as_u16(), 400);
    assert!(
        malformed
            .text()
            .await
            .expect("text")
            .contains("not an Alertmanager payload")
    );
    let v3 = firing.replace("\"version\": \"4\"", "\"version\": \"3\"");
    let old = k.post(path, &v3, Some(ALERTS_TOKEN)).await;
    assert_eq!(old.status().as_u16(), 400);
    assert!(old.text().await.expect("text").contains("version"));
    let hook = k
        .post("/alerts/webhook", "{\"title\": 5}", Some(ALERTS_TOKEN))
        .await;
    assert_eq!(hook.status().as_u16(), 400);
    let huge = format!(
        "{{\"title\":\"x\",\"summary\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let too_big = k.post("/alerts/webhook", &huge, Some(ALERTS_TOKEN)).await;
    assert_eq!(too_big.status().as_u16(), 413);
    // Nothing was announced by any refused request.
    assert!(k.fake.calls_to("chat.postMessage").is_empty());
    k.stop().await;
}

#[tokio::test]
async fn a_firing_alert_is_announced_once_with_a_declare_button_that_declares_once() {
    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(CONFIG)
            .alerts(Some(ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    let firing = fixture("alertmanager/firing.json");
    let first = k.alerts("/alerts/alertmanager", &firing).await;
    assert_eq!(first["announced"], 1, "{first}");
    assert!(k.fake.until(|_| !posts_in(&k, "C0PAGING").is_empty()).await);
    let post = &posts_in(&k, "C0PAGING")[0];
    let text = post["text"].as_str().expect("text");
    assert!(text.contains("SEV1"), "critical maps to SEV1: {text}");
    assert!(
        text.contains("HighErrorRate: 5xx ratio above 5% &lt;!channel&gt;"),
        "{text}"
    );
    assert!(
        !text.contains("<!channel>"),
        "alert text never pings: {text}"
    );
    assert!(text.contains("Seen: since 09:00 UTC"), "{text}");
    assert_eq!(buttons(post), ["klaxon.declare"]);

    // The same alert again: the announcement is edited, never posted twice, and nothing is
    // declared.
    k.clock.advance(std::time::Duration::from_secs(5 * 60));
    let again = k.alerts("/alerts/alertmanager", &firing).await;
    assert_eq!(again["deduplicated"], 1, "{again}");
    assert!(
        k.fake
            .until(|_| !updates_in(&k, "C0PAGING").is_empty())
            .await
    );
    let edited = updates_in(&k, "C0PAGING")[0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        edited.contains("2 times, first 09:00 UTC, last 09:05 UTC"),
        "{edited}"
    );
    assert_eq!(posts_in(&k, "C0PAGING").len(), 1);
    assert!(k.fake.calls_to("conversations.create").is_empty());

    // The button declares with the alert's title and severity; a second click does nothing.
    assert_eq!(k.click_declare(1, "U0BOB", "trig-1").await, 200);
    assert_eq!(k.click_declare(1, "U0CAROL", "trig-2").await, 200);
    // The announcement's edit and the channel's creation are in different lanes, so either
    // may come first: wait for both.
    assert!(
        k.fake
            .until(|_| updates_in(&k, "C0PAGING").len() >= 2
                && !k.fake.calls_to("conversations.create").is_empty())
            .await
    );
    let create = k.fake.calls_to("conversations.create");
    assert_eq!(create.len(), 1, "one click, one incident: {create:?}");
    let declared = updates_in(&k, "C0PAGING")[1].clone();
    assert!(
        declared["text"].as_str().unwrap_or("").contains("INC-1"),
        "{declared}"
    );
    assert!(buttons(&declared).is_empty(), "no button once declared");
    let entries = timeline(&k, 1).await;
    assert_eq!(entries[0].kind.word(), "declared");
    assert_eq!(entries[0].actor.id, "U0BOB");
    assert!(entries[0].text.contains("SEV1"), "{}", entries[0].text);
    let detected = entries
        .iter()
        .find(|e| e.kind.word() == "detected")
        .expect("detected by");
    assert!(
        detected
            .text
            .starts_with("alertmanager alert \"HighErrorRate")
    );
    assert!(detected.text.contains("team=payments"));
    assert!(
        detected
            .text
            .contains("http://prometheus.example:9090/graph")
    );
    assert!(
        matches!(&detected.kind, klaxon::store::timeline::EntryKind::Detected { source, .. } if source == "alertmanager"),
        "{:?}",
        detected.kind
    );

    // The postmortem's "detected by" is the alert.
    let s = k.store().await;
    let mut conn = s.read().await.expect("conn");
    let incident = store::incidents::by_number(&mut conn, &team(), 1)
        .await
        .expect("query")
        .expect("incident");
    let config = klaxon::config::Config::parse(CONFIG).expect("config");
    let context = klaxon::engine::postmortem::gather(
        &mut conn,
        &config,
        &incident,
        1,
        klaxon::clock::Clock::now(&k.clock),
    )
    .await
    .expect("gather");
    let by = context.detected_by.expect("detected_by");
    assert!(by.contains("HighErrorRate"), "{by}");
    drop(conn);
    k.stop().await;
}

#[tokio::test]
async fn auto_declare_declares_at_once_and_a_resolved_alert_reaches_the_incident() {
    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(CONFIG)
            .alerts(Some(ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    let firing = fixture("alertmanager/firing.json").replace("payments", "search");
    let resolved = fixture("alertmanager/resolved.json").replace("payments", "search");
    let answer = k.alerts("/alerts/alertmanager", &firing).await;
    assert_eq!(answer["declared"], 1, "{answer}");
    assert!(
        k.fake
            .until(|_| !posts_in(&k, "C0SEARCH").is_empty()
                && !k.fake.calls_to("conversations.create").is_empty())
            .await
    );
    let post = posts_in(&k, "C0SEARCH")[0].clone();
    assert!(
        post["text"].as_str().unwrap_or("").contains("INC-1"),
        "{post}"
    );
    assert!(buttons(&post).is_empty());
    // Declared once even when Alertmanager repeats itself.
    k.alerts("/alerts/alertmanager", &firing).await;

    k.clock.advance(std::time::Duration::from_secs(20 * 60));
    let answer = k.alerts("/alerts/alertmanager", &resolved).await;
    assert_eq!(answer["resolved"], 1, "{answer}");
    assert!(
        k.fake
            .until(|_| updates_in(&k, "C0SEARCH")
                .iter()
                .any(|u| u["text"].as_str().unwrap_or("").contains("Resolved")))
            .await
    );
    let last = updates_in(&k, "C0SEARCH").last().cloned().expect("edit");
    assert!(
        last["text"]
            .as_str()
            .unwrap_or("")
            .contains("Resolved: 09:20 UTC"),
        "{last}"
    );
    assert_eq!(k.fake.calls_to("conversations.create").len(), 1);
    let entries = timeline(&k, 1).await;
    assert_eq!(entries[0].actor.id, "alert:alertmanager");
    assert!(
        entries.iter().any(
            |e| e.kind.word() == "alert" && e.text.starts_with("Alert resolved: HighErrorRate")
        ),
        "{entries:?}"
    );
    // Resolved again: nothing more happens.
    let again = k.alerts("/alerts/alertmanager", &resolved).await;
    assert_eq!(again["deduplicated"], 1, "{again}");
    k.stop().await;
}

#[tokio::test]
async fn a_grouped_payload_is_routed_alert_by_alert() {
    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(CONFIG)
            .alerts(Some(ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    let answer = k
        .alerts(
            "/alerts/alertmanager",
            &fixture("alertmanager/grouped.json"),
        )
        .await;
    // pay-1 → #paging (button); search-3 → #search (auto-declared; Discord is not configured,
    // so its target is skipped); pay-2 resolved but never seen: ignored; misc-9: no route.
    assert_eq!(answer["received"], 4, "{answer}");
    assert_eq!(answer["announced"], 2, "{answer}");
    assert_eq!(answer["declared"], 1, "{answer}");
    assert_eq!(answer["ignored"], 1, "{answer}");
    assert_eq!(answer["unrouted"], 1, "{answer}");
    assert!(
        k.fake
            .until(|_| posts_in(&k, "C0PAGING").len() == 1 && posts_in(&k, "C0SEARCH").len() == 1)
            .await
    );
    let paging = posts_in(&k, "C0PAGING")[0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(paging.contains("SEV3"), "warning maps to SEV3: {paging}");
    assert!(paging.contains("pay-1:9100"), "{paging}");
    k.stop().await;
}

#[tokio::test]
async fn the_webhook_takes_a_small_json_and_escapes_it() {
    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(CONFIG)
            .alerts(Some(ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    let body = serde_json::json!({
        "title": "<!channel> disk full on db-1 <@U0BOSS>",
        "severity": "sev2",
        "summary": "95% used & rising",
        "source": "cron-check",
        "fingerprint": "db-1-disk",
        "labels": { "team": "payments", "host": "db-1" },
        "link": "https://grafana.example/d/disk"
    });
    let answer = k.alerts("/alerts/webhook", &body.to_string()).await;
    assert_eq!(answer["announced"], 1, "{answer}");
    assert!(k.fake.until(|_| !posts_in(&k, "C0PAGING").is_empty()).await);
    let text = posts_in(&k, "C0PAGING")[0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(text.contains("SEV2"), "{text}");
    assert!(
        text.contains("&lt;!channel&gt; disk full on db-1 &lt;@U0BOSS&gt;"),
        "{text}"
    );
    assert!(text.contains("95% used &amp; rising"), "{text}");
    assert!(text.contains("cron-check"), "{text}");
    assert!(
        !text.contains("<!channel>") && !text.contains("<@U0BOSS>"),
        "{text}"
    );
    // Same fingerprint: an edit, not a post.
    let answer = k.alerts("/alerts/webhook", &body.to_string()).await;
    assert_eq!(answer["deduplicated"], 1, "{answer}");
    k.stop().await;
}

#[tokio::test]
async fn the_declare_button_works_over_socket_mode_too() {
    let k = spawn(
        SlackSocket,
        Options::default()
            .toml(CONFIG)
            .alerts(Some(ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    k.alerts("/alerts/alertmanager", &fixture("alertmanager/firing.json"))
        .await;
    assert!(k.fake.until(|_| !posts_in(&k, "C0PAGING").is_empty()).await);
    k.socket_click_declare(1, "U0BOB", "trig-s1").await;
    // Slack redelivers the same envelope: one incident.
    k.socket_click_declare(1, "U0BOB", "trig-s1").await;
    // The edit and the channel's creation are in different outbox lanes: wait for both.
    assert!(
        k.fake
            .until(|_| updates_in(&k, "C0PAGING")
                .iter()
                .any(|u| u["text"].as_str().unwrap_or("").contains("INC-1"))
                && !k.fake.calls_to("conversations.create").is_empty())
            .await
    );
    assert_eq!(k.fake.calls_to("conversations.create").len(), 1);
    let entries = timeline(&k, 1).await;
    assert!(entries.iter().any(|e| e.kind.word() == "detected"));
    k.stop().await;
}

#[tokio::test]
async fn a_burst_of_repeats_is_one_edit_and_a_refire_after_resolution_reaches_the_incident() {
    use klaxon_tests::{Call, TestBot};
    let config = klaxon::config::Config::parse(
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
    let firing = || {
        klaxon::alerts::parse_webhook(br#"{"title":"Queue backlog","fingerprint":"q1"}"#)
            .expect("alert")
    };
    let resolved = || {
        klaxon::alerts::parse_webhook(
            br#"{"title":"Queue backlog","fingerprint":"q1","status":"resolved"}"#,
        )
        .expect("alert")
    };
    for _ in 0..3 {
        bot.app
            .engine
            .ingest_alerts("webhook", firing(), &platforms)
            .await
            .expect("ingest");
    }
    bot.settle().await;
    let on_alerts = |calls: Vec<Call>| -> Vec<Call> {
        calls
            .into_iter()
            .filter(|c| matches!(c, Call::Post { channel, .. } | Call::Edit { channel, .. } if channel == "alerts"))
            .collect()
    };
    let calls = on_alerts(bot.api.calls());
    assert_eq!(calls.len(), 2, "one post, one edit: {calls:?}");
    let Call::Edit { message, .. } = &calls[1] else {
        panic!("{calls:?}")
    };
    assert!(
        message.to_plain().contains("Seen: 3 times"),
        "{}",
        message.to_plain()
    );

    bot.advance("10m").await;
    bot.app
        .engine
        .ingest_alerts("webhook", resolved(), &platforms)
        .await
        .expect("ingest");
    bot.advance("10m").await;
    bot.app
        .engine
        .ingest_alerts("webhook", firing(), &platforms)
        .await
        .expect("ingest");
    bot.settle().await;
    let mut conn = bot.store().read().await.expect("conn");
    let incident = store::incidents::by_number(&mut conn, &bot.tenant, 1)
        .await
        .expect("query")
        .expect("incident");
    let texts: Vec<String> = store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
        .into_iter()
        .map(|e| format!("{} {}", e.kind.word(), e.text))
        .collect();
    assert!(
        texts.contains(&"alert Alert resolved: Queue backlog".to_owned()),
        "{texts:?}"
    );
    assert!(
        texts.contains(&"alert Alert firing again: Queue backlog".to_owned()),
        "{texts:?}"
    );
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("declared")).count(),
        1,
        "{texts:?}"
    );
}
