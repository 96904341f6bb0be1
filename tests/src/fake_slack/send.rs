//! What Slack sends Klaxon, signed as Slack signs it: slash commands, interactions (clicks,
//! shortcuts, form submissions) and events.

use super::*;

/// Signs a body the way Slack does: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts a slash command to Klaxon's `/slack/commands`, signed now with the shared secret.
pub async fn slash(klaxon: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let body = serde_urlencoded::to_string(fields).expect("form");
    let ts = chrono::Utc::now().timestamp();
    send(klaxon, &body, Some((sign(SIGNING_SECRET, ts, &body), ts))).await
}

/// Posts a raw body with an optional (signature, timestamp).
pub async fn send(klaxon: &str, body: &str, signature: Option<(String, i64)>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{klaxon}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some((sig, ts)) = signature {
        req = req
            .header("x-slack-signature", sig)
            .header("x-slack-request-timestamp", ts.to_string());
    }
    req.send().await.expect("klaxon answers")
}

/// A button click (`block_actions`) on one of Klaxon's buttons, as Slack sends it, with a
/// `response_url` that leads back to `base` (the fake's `/respond`).
pub(super) fn click_payload(
    base: &str,
    action: &str,
    incident: i64,
    user: &str,
    channel: &str,
    trigger: &str,
) -> Value {
    json!({
        "type": "block_actions",
        "team": { "id": "T0TEAM", "domain": "acme" },
        "user": { "id": user, "username": user.to_lowercase(), "team_id": "T0TEAM" },
        "api_app_id": "A0KLAXON",
        "container": { "type": "message", "message_ts": "1763888400.000004", "channel_id": channel },
        "trigger_id": trigger,
        "channel": { "id": channel, "name": "incidents" },
        "response_url": format!("http://{base}/respond/{trigger}"),
        "actions": [{
            "type": "button",
            "action_id": format!("klaxon.{action}"),
            "block_id": "b1",
            "text": { "type": "plain_text", "text": action },
            "value": incident.to_string(),
            "action_ts": "1763888500.000100"
        }]
    })
}

/// Posts a signed interaction to Klaxon's `/slack/interactions`.
pub async fn interact(klaxon: &str, payload: &Value) -> reqwest::Response {
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
    let ts = chrono::Utc::now().timestamp();
    reqwest::Client::new()
        .post(format!("{klaxon}/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body))
        .header("x-slack-request-timestamp", ts.to_string())
        .body(body)
        .send()
        .await
        .expect("klaxon answers")
}

/// The "Declare incident" global shortcut, as Slack sends it.
pub fn shortcut(user: &str, trigger: &str) -> Value {
    json!({
        "type": "shortcut",
        "token": "legacy-verification-token",
        "action_ts": "1763888500.000200",
        "team": { "id": "T0TEAM", "domain": "acme" },
        "user": { "id": user, "username": user.to_lowercase(), "team_id": "T0TEAM" },
        "is_enterprise_install": false,
        "callback_id": "klaxon.declare",
        "trigger_id": trigger,
    })
}

/// A `view_submission` of a form Klaxon opened, with the values the user entered, as Slack
/// sends it (`state.values` by block id, then action id).
pub fn submit(view: &Value, user: &str, values: Value) -> Value {
    let mut view = view.clone();
    view["state"] = json!({ "values": values });
    json!({
        "type": "view_submission",
        "team": { "id": "T0TEAM", "domain": "acme" },
        "user": { "id": user, "username": user.to_lowercase(), "name": user.to_lowercase(), "team_id": "T0TEAM" },
        "api_app_id": "A0KLAXON",
        "token": "legacy-verification-token",
        "trigger_id": "1763888600.submit",
        "view": view,
        "response_urls": [],
        "is_enterprise_install": false,
    })
}

/// The values of a filled-in declare form.
pub fn declare_values(title: &str, severity: Option<&str>, private: bool) -> Value {
    let selected = severity
        .map(|s| json!({ "text": { "type": "plain_text", "text": s.to_uppercase() }, "value": s }));
    let mut severity = json!({ "type": "static_select" });
    if let Some(selected) = selected {
        severity["selected_option"] = selected;
    }
    let options = if private {
        json!([{ "text": { "type": "plain_text", "text": "Private incident" }, "value": "private" }])
    } else {
        json!([])
    };
    json!({
        "title": { "title": { "type": "plain_text_input", "value": title } },
        "severity": { "severity": severity },
        "private": { "private": { "type": "checkboxes", "selected_options": options } },
    })
}

/// An `event_callback` as the Events API sends it.
pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "legacy-verification-token",
        "team_id": "T0TEAM",
        "api_app_id": "A0KLAXON",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1_763_888_500,
        "authorizations": [{ "team_id": "T0TEAM", "user_id": "U0KLAXON", "is_bot": true }],
    })
}

/// A `reaction_added` or `reaction_removed` event on a message.
pub fn reaction(kind: &str, user: &str, name: &str, channel: &str, ts: &str) -> Value {
    json!({
        "type": kind,
        "user": user,
        "reaction": name,
        "item_user": "U0ALICE",
        "item": { "type": "message", "channel": channel, "ts": ts },
        "event_ts": "1763888500.000900",
    })
}

/// Posts a signed Events API request to Klaxon's `/slack/events`, with an optional
/// `X-Slack-Retry-Num`.
pub async fn event(klaxon: &str, payload: &Value, retry: Option<u32>) -> reqwest::Response {
    let body = payload.to_string();
    let ts = chrono::Utc::now().timestamp();
    let mut req = reqwest::Client::new()
        .post(format!("{klaxon}/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body))
        .header("x-slack-request-timestamp", ts.to_string());
    if let Some(n) = retry {
        req = req
            .header("x-slack-retry-num", n.to_string())
            .header("x-slack-retry-reason", "http_timeout");
    }
    req.body(body).send().await.expect("klaxon answers")
}

/// One signed `/inc declare sev2 <prefix> <n>` (`n` as three digits, trigger `bench-<n>`), as
/// the benches send it to Klaxon at `klaxon`: when it was sent, how long the answer took and
/// the answer's text. Panics unless the answer is a success.
pub async fn bench_declare(
    klaxon: &str,
    prefix: &str,
    n: usize,
) -> (std::time::Instant, std::time::Duration, String) {
    let sent = std::time::Instant::now();
    let resp = slash(
        klaxon,
        &[
            ("team_id", "T0BENCH"),
            ("channel_id", "C0GENERAL"),
            ("user_id", "U0BENCH"),
            ("command", "/inc"),
            ("text", &format!("declare sev2 {prefix} {n:03}")),
            ("trigger_id", &format!("bench-{n}")),
        ],
    )
    .await;
    let took = sent.elapsed();
    assert!(resp.status().is_success());
    let answer = resp.text().await.expect("answer");
    (sent, took, answer)
}
