//! Steps that Slack tests repeat, on a [`Bot`] spawned against the fake Slack.

use klaxon::app::PlatformSettings;
use serde_json::Value;

use super::{ALERTS_TOKEN, Bot};
use crate::fake_slack::{self, APP_TOKEN, BOT_TOKEN, FakeSlack, SIGNING_SECRET};

/// Klaxon pointed at `fake`, over Socket Mode or signed HTTP.
pub fn settings(fake: &FakeSlack, socket: bool) -> PlatformSettings {
    PlatformSettings {
        slack_bot_token: Some(BOT_TOKEN.to_owned().into()),
        slack_signing_secret: (!socket).then(|| SIGNING_SECRET.to_owned().into()),
        slack_app_token: socket.then(|| APP_TOKEN.to_owned().into()),
        slack_api_url: Some(fake.api_url.clone()),
        ..PlatformSettings::default()
    }
}

/// A slash command's Socket Mode payload: `/inc <text>` by U0ONCALL in `channel`.
pub fn socket_command(channel: &str, text: &str, trigger: &str) -> Value {
    serde_json::json!({
        "team_id": "T0TEAM",
        "channel_id": channel,
        "user_id": "U0ONCALL",
        "command": "/inc",
        "text": text,
        "response_url": "https://hooks.slack.com/commands/T0TEAM/1/x",
        "trigger_id": trigger,
    })
}

impl Bot<FakeSlack> {
    /// `/inc <text>` by `user` in `channel`, signed, with a unique trigger id; the JSON answer.
    pub async fn say(&self, user: &str, channel: &str, text: &str) -> Value {
        let trigger = self.fake.trigger();
        self.say_as(user, channel, text, &trigger).await
    }

    /// The same with this trigger id (a retry carries the same one).
    pub async fn say_as(&self, user: &str, channel: &str, text: &str, trigger: &str) -> Value {
        let resp = fake_slack::slash(
            &self.url,
            &[
                ("team_id", "T0TEAM"),
                ("channel_id", channel),
                ("channel_name", channel),
                ("user_id", user),
                ("user_name", &user.to_lowercase()),
                ("command", "/inc"),
                ("text", text),
                ("trigger_id", trigger),
            ],
        )
        .await;
        assert_eq!(resp.status().as_u16(), 200);
        resp.json().await.expect("json reply")
    }

    /// Waits until Klaxon has called `method` at least `n` times.
    pub async fn called(&self, method: &str, n: usize) {
        assert!(
            self.fake
                .until(|c| c.iter().filter(|c| c.method == method).count() >= n)
                .await,
            "{method} × {n}: {:#?}",
            self.fake.calls()
        );
    }

    /// `/inc <line>` by U0ONCALL in #general, signed; waits for the new incident's pinned
    /// summary. The answer.
    pub async fn declare(&self, line: &str) -> Value {
        let reply = self.say("U0ONCALL", "C0GENERAL", line).await;
        self.called("pins.add", 1).await;
        reply
    }

    /// `/inc <line>` by U0ONCALL in #general over Socket Mode; waits for the new incident's
    /// pinned summary. The acknowledgement's payload.
    pub async fn socket_declare(&self, line: &str, trigger: &str) -> Value {
        let reply = self
            .fake
            .socket_command(socket_command("C0GENERAL", line, trigger))
            .await;
        self.called("pins.add", 1).await;
        reply
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
    pub async fn alerts(&self, path: &str, body: &str) -> Value {
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
    pub async fn socket_click_declare(&self, alert: i64, user: &str, trigger: &str) -> Value {
        let mut payload = self.fake.click("declare", 0, user, "C0PAGING", trigger);
        payload["actions"][0]["value"] = format!("0:{alert}").into();
        self.fake.socket_envelope("interactive", payload).await
    }
}
