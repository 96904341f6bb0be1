//! Slack over signed HTTP, against the fake Slack: the shared scenario, signatures, escaping,
//! naming collisions and rate limits.

use klaxon::app::{PlatformSettings, serve};
use klaxon::config::Config;
use klaxon::store::Store;
use klaxon_tests::fake_slack::{self, BOT_TOKEN, FakeSlack, SIGNING_SECRET};
use klaxon_tests::scenario;
use serde_json::Value;

struct Running {
    url: String,
    fake: FakeSlack,
    store_path: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start() -> Self {
        Self::start_with(FakeSlack::start().await).await
    }

    async fn start_with(fake: FakeSlack) -> Self {
        Self::start_mode(fake, false).await
    }

    /// Socket Mode instead of signed HTTP.
    async fn start_socket() -> Self {
        Self::start_mode(FakeSlack::start().await, true).await
    }

    async fn start_mode(fake: FakeSlack, socket: bool) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let store_path = dir.path().join("k.db");
        let store = Store::open(store_path.to_str().expect("utf-8"))
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
            alerts_token: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = Config::parse("checklist = []").expect("config");
        let done = tokio::spawn(serve(store, config, settings, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            fake,
            store_path,
            stop: Some(stop),
            done: Some(done),
            _dir: dir,
        }
    }

    /// `/inc <text>` by `user` in `channel`, with a unique trigger id.
    async fn say(&self, user: &str, channel: &str, text: &str) -> Value {
        let trigger = format!("trigger-{}", uuid_like());
        self.say_as(user, channel, text, &trigger).await
    }

    async fn say_as(&self, user: &str, channel: &str, text: &str, trigger: &str) -> Value {
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

    /// Stops Klaxon and hands back its folder (the database outlives the process).
    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.expect("join").expect("serve ends cleanly");
        }
        self._dir
    }
}

/// The shared script's `@name` as Slack sends it (slash command with escaping on): `<@U0NAME|name>`.
fn slack_mentions(text: &str) -> String {
    text.split(' ')
        .map(|w| match w.strip_prefix('@') {
            Some(name) if !name.is_empty() => format!("<@U0{}|{name}>", name.to_uppercase()),
            _ => w.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[tokio::test]
async fn the_foundation_scenario_runs_over_signed_http() {
    let k = Running::start().await;
    let mut channel = "C0GENERAL".to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        let text = slack_mentions(line.trim_start_matches("/inc").trim());
        let reply = k.say("U0ONCALL", &channel, &text).await;
        assert_eq!(reply["response_type"], "ephemeral", "{reply}");
        let shown = reply["text"].as_str().unwrap_or("");
        assert!(!shown.starts_with(":warning:"), "{line} → {shown}");
        if n == 0 {
            assert!(
                k.fake
                    .until(|c| c.iter().any(|c| c.method == "conversations.create"))
                    .await
            );
            channel = k.fake.calls_to("conversations.create")[0]["name"]
                .as_str()
                .map(str::to_owned)
                .expect("name");
            assert_eq!(
                channel,
                "inc-".to_owned()
                    + &chrono::Utc::now().format("%Y-%m-%d").to_string()
                    + "-checkout-api-returning-500s"
            );
            // Later commands come from the new channel, by its id.
            channel = "C0000001".to_owned();
        }
    }
    // Everything the scenario implies reaches Slack, in order, after the replies.
    assert!(
        k.fake
            .until(|c| c
                .iter()
                .filter(|c| c.method == "chat.update")
                .any(|c| c.body["text"].as_str().unwrap_or("").contains("Resolved")))
            .await,
        "{:#?}",
        k.fake.calls()
    );
    let create = &k.fake.calls_to("conversations.create")[0];
    assert_eq!(create["is_private"], false);
    let invites = k.fake.calls_to("conversations.invite");
    assert_eq!(invites[0]["users"], serde_json::json!(["U0ONCALL"]));
    let posts = k.fake.calls_to("chat.postMessage");
    let announcement = &posts[0];
    assert_eq!(announcement["channel"], "incidents");
    assert_eq!(announcement["unfurl_links"], false);
    assert!(announcement.get("link_names").is_none() && announcement.get("parse").is_none());
    assert_eq!(announcement["blocks"][0]["type"], "section");
    assert!(
        announcement["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("*🟠 SEV2 · INC-1 ·* Checkout API returning 500s")
    );
    assert_eq!(
        announcement["blocks"][1]["fields"][1]["text"],
        "*Channel*\n<#C0000001>"
    );
    // The summary is posted in the channel and pinned; the announcement is edited, never reposted.
    assert!(
        posts.iter().any(|p| p["channel"] == "C0000001"
            && p["text"].as_str().unwrap_or("").contains("📣 Update"))
    );
    assert!(!k.fake.calls_to("pins.add").is_empty());
    assert_eq!(
        posts.iter().filter(|p| p["channel"] == "incidents").count(),
        1
    );
    let last_edit = k
        .fake
        .calls_to("chat.update")
        .into_iter()
        .rev()
        .find(|u| u["channel"] == "incidents")
        .expect("edited");
    assert!(
        last_edit["text"]
            .as_str()
            .unwrap_or("")
            .starts_with("*✅ Resolved · SEV1 · INC-1 ·* Checkout API returning 500s"),
        "{last_edit}"
    );
    let path = k.store_path.clone();
    let _dir = k.stop().await;
    // The timeline is there after the process is gone.
    let store = Store::open(path.to_str().expect("utf-8"))
        .await
        .expect("store");
    let mut conn = store.conn().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Slack, "T0TEAM");
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, 1)
        .await
        .expect("q")
        .expect("INC-1");
    let kinds: Vec<String> = klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("tl")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "declared",
            "acknowledged",
            "role",
            "update",
            "severity",
            "status",
            "note",
            "resolved"
        ]
    );
}

#[tokio::test]
async fn forged_unsigned_and_stale_requests_get_401_and_change_nothing() {
    let k = Running::start().await;
    let body =
        "team_id=T0TEAM&channel_id=C1&user_id=U1&command=%2Finc&text=declare+sev1+x&trigger_id=t1";
    let now = chrono::Utc::now().timestamp();
    let cases = [
        ("unsigned", None),
        (
            "wrong secret",
            Some((fake_slack::sign("not-the-secret", now, body), now)),
        ),
        (
            "stale",
            Some((fake_slack::sign(SIGNING_SECRET, now - 600, body), now - 600)),
        ),
        (
            "tampered",
            Some((
                fake_slack::sign(SIGNING_SECRET, now, "text=declare+sev4+y"),
                now,
            )),
        ),
    ];
    for (what, sig) in cases {
        let resp = fake_slack::send(&k.url, body, sig).await;
        assert_eq!(resp.status().as_u16(), 401, "{what}");
    }
    // A body over the limit is refused before it is read.
    let big = format!("text={}", "a".repeat(klaxon::http::MAX_BODY + 1));
    let resp = fake_slack::send(
        &k.url,
        &big,
        Some((fake_slack::sign(SIGNING_SECRET, now, &big), now)),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 413);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(k.fake.calls().is_empty(), "nothing reached Slack");
    let health = reqwest::get(format!("{}/healthz", k.url))
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let ready = reqwest::get(format!("{}/readyz", k.url))
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    k.stop().await;
}

#[tokio::test]
async fn titles_cannot_ping_and_collisions_and_rate_limits_are_handled() {
    let fake = FakeSlack::start().await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    fake.take_name(&format!("inc-{today}-channel-everyone-x"));
    let k = Running::start_with(fake).await;
    // Slack answers the first three calls with 429 and Retry-After: 1.
    k.fake
        .force([(429, Some(1)), (429, Some(1)), (429, Some(1))]);
    let reply = k
        .say(
            "U0ONCALL",
            "C0GENERAL",
            "declare sev1 <!channel> @everyone **x**",
        )
        .await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or("")
            .contains("INC-1 declared"),
        "{reply}"
    );
    assert!(
        k.fake
            .until(|c| c.iter().filter(|c| c.method == "chat.postMessage").count() >= 2)
            .await,
        "{:#?}",
        k.fake.calls()
    );
    // Slack said name_taken for the archived channel's name; Klaxon took the next suffix.
    let created: Vec<Value> = k
        .fake
        .calls_to("conversations.create")
        .into_iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(
        created,
        [
            Value::from(format!("inc-{today}-channel-everyone-x")),
            Value::from(format!("inc-{today}-channel-everyone-x-2"))
        ]
    );
    for p in k.fake.calls_to("chat.postMessage") {
        let text = serde_json::to_string(&p).expect("json");
        assert!(!text.contains("<!channel>"), "{text}");
    }
    let announcement = &k.fake.calls_to("chat.postMessage")[0];
    assert!(
        announcement["text"]
            .as_str()
            .unwrap_or("")
            .contains("&lt;!channel&gt; @everyone **x**"),
        "{announcement}"
    );
    k.stop().await;
}

#[tokio::test]
async fn a_retried_delivery_has_one_effect() {
    let k = Running::start().await;
    let first = k
        .say_as(
            "U0ONCALL",
            "C0GENERAL",
            "declare sev2 Double click",
            "same-trigger",
        )
        .await;
    let again = k
        .say_as(
            "U0ONCALL",
            "C0GENERAL",
            "declare sev2 Double click",
            "same-trigger",
        )
        .await;
    assert_eq!(first, again);
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(k.fake.calls_to("conversations.create").len(), 1);
    k.stop().await;
}

#[tokio::test]
async fn socket_mode_connects_and_runs_the_scenario() {
    let k = Running::start_socket().await;
    for _ in 0..500 {
        if k.fake.connected() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        k.fake.connected(),
        "Klaxon opened the socket from apps.connections.open"
    );
    let mut ready = 0;
    for _ in 0..100 {
        ready = reqwest::get(format!("{}/readyz", k.url))
            .await
            .expect("readyz")
            .status()
            .as_u16();
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ready, 200, "ready once Slack said hello");
    let command = |channel: &str, text: &str, trigger: &str| {
        serde_json::json!({
            "team_id": "T0TEAM",
            "channel_id": channel,
            "user_id": "U0ONCALL",
            "command": "/inc",
            "text": text,
            "response_url": "https://hooks.slack.com/commands/T0TEAM/1/x",
            "trigger_id": trigger,
        })
    };
    let mut channel = "C0GENERAL".to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        let text = slack_mentions(line.trim_start_matches("/inc").trim());
        let reply = k
            .fake
            .socket_command(command(&channel, &text, &format!("sm-{n}")))
            .await;
        assert_eq!(reply["response_type"], "ephemeral", "{reply}");
        assert!(
            !reply["text"]
                .as_str()
                .unwrap_or(":warning:")
                .starts_with(":warning:"),
            "{line} → {reply}"
        );
        if n == 0 {
            assert!(
                k.fake
                    .until(|c| c.iter().any(|c| c.method == "conversations.create"))
                    .await
            );
            channel = "C0000001".to_owned();
        }
    }
    // A redelivered envelope (same trigger) gets the same answer and changes nothing.
    let again = k
        .fake
        .socket_command(command(&channel, "note marker-7f3a", "sm-note"))
        .await;
    let twice = k
        .fake
        .socket_command(command(&channel, "note marker-7f3a", "sm-note"))
        .await;
    assert_eq!(again, twice);
    assert!(
        again["text"].as_str().unwrap_or("").starts_with("✓ Noted"),
        "{again}"
    );
    assert!(
        k.fake
            .until(|c| c
                .iter()
                .filter(|c| c.method == "chat.update")
                .any(|c| c.body["text"].as_str().unwrap_or("").contains("Resolved")))
            .await
    );
    let note = |c: &[fake_slack::ApiCall]| {
        c.iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.body["text"]
                        .as_str()
                        .unwrap_or("")
                        .contains("marker-7f3a")
            })
            .count()
    };
    assert!(
        k.fake.until(|c| note(c) >= 1).await,
        "{:#?}",
        k.fake
            .calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.body["text"]))
            .collect::<Vec<_>>()
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let notes = note(&k.fake.calls());
    assert_eq!(notes, 1);
    k.stop().await;
}

#[tokio::test]
async fn buttons_acknowledge_and_resolve_with_one_effect() {
    let k = Running::start().await;
    k.say("U0ONCALL", "C0GENERAL", "declare sev1 Payments down")
        .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    let announcement = k.fake.calls_to("chat.postMessage")[0].clone();
    let actions = &announcement["blocks"][2];
    assert_eq!(actions["type"], "actions", "{announcement}");
    assert_eq!(actions["elements"][0]["action_id"], "klaxon.ack");
    assert_eq!(actions["elements"][0]["value"], "1");
    assert_eq!(actions["elements"][1]["action_id"], "klaxon.resolve");
    assert_eq!(actions["elements"][1]["style"], "danger");
    assert_eq!(
        actions["elements"][1]["confirm"]["text"]["text"],
        "Resolve INC-1? Its reminders stop."
    );

    // A click from the paging channel acts on the button's incident.
    let resp = fake_slack::interact(
        &k.url,
        &fake_slack::click("ack", 1, "U0BOB", "incidents", "t-ack"),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let acked = |c: &[fake_slack::ApiCall]| {
        c.iter().any(|c| {
            c.method == "chat.update"
                && c.body["channel"] == "incidents"
                && c.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Acknowledged: <@U0BOB>")
        })
    };
    assert!(
        k.fake.until(acked).await,
        "{:#?}",
        k.fake.calls_to("chat.update")
    );
    let edit = k
        .fake
        .calls_to("chat.update")
        .into_iter()
        .rev()
        .find(|u| u["channel"] == "incidents")
        .expect("edit");
    let buttons: Vec<&str> = edit["blocks"][2]["elements"]
        .as_array()
        .map(|a| a.iter().filter_map(|b| b["action_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        buttons,
        ["klaxon.resolve"],
        "Acknowledge goes once someone has"
    );

    // A double click on Resolve resolves once.
    for n in 0..2 {
        let resp = fake_slack::interact(
            &k.url,
            &fake_slack::click("resolve", 1, "U0BOB", "incidents", &format!("t-r{n}")),
        )
        .await;
        assert_eq!(resp.status().as_u16(), 200);
    }
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "chat.postMessage"
                && c.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("✅ Resolved")))
            .await
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let resolved = k
        .fake
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|p| p["text"].as_str().unwrap_or("").starts_with("✅ Resolved"))
        .count();
    assert_eq!(resolved, 1);

    // A forged click is refused.
    let payload = fake_slack::click("resolve", 1, "U0EVE", "incidents", "t-x").to_string();
    let body = format!("payload={payload}");
    let resp = reqwest::Client::new()
        .post(format!("{}/slack/interactions", k.url))
        .header("x-slack-signature", "v0=00")
        .header(
            "x-slack-request-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .body(body)
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 401);
    k.stop().await;
}

#[tokio::test]
async fn buttons_work_over_socket_mode() {
    let k = Running::start_socket().await;
    assert!(k.fake.until(|_| k.fake.connected()).await);
    let command = serde_json::json!({
        "team_id": "T0TEAM", "channel_id": "C0GENERAL", "user_id": "U0ONCALL", "command": "/inc",
        "text": "declare sev2 Search down", "response_url": "https://hooks.slack.com/x", "trigger_id": "s-1",
    });
    k.fake.socket_command(command).await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    k.fake
        .socket_envelope(
            "interactive",
            fake_slack::click("ack", 1, "U0CAROL", "incidents", "s-2"),
        )
        .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "chat.postMessage"
                && c.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("<@U0CAROL> acknowledged")))
            .await
    );
    k.stop().await;
}
