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
            ..PlatformSettings::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config = Config::parse("checklist = []").expect("config");
        let done = tokio::spawn(serve(store, config, settings, listener, async move {
            let _ = stopped.await;
        }));
        klaxon_tests::started(&url).await;
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
        let trigger = self.fake.trigger();
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
            // Later commands come from the new channel, by its id, once Klaxon has it (its
            // announcement follows the channel's creation).
            channel = "C0000001".to_owned();
            assert!(
                k.fake
                    .until(|c| c.iter().any(|c| c.method == "chat.postMessage"))
                    .await
            );
        }
    }
    // Everything the scenario implies reaches Slack, in order, after the replies (the
    // announcement's edit after its debounce window).
    assert!(
        k.fake
            .until(|c| c
                .iter()
                .filter(|c| c.method == "chat.update" && c.body["channel"] == fake_slack::INCIDENTS)
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
    assert_eq!(announcement["channel"], fake_slack::INCIDENTS);
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
        posts
            .iter()
            .filter(|p| p["channel"] == fake_slack::INCIDENTS)
            .count(),
        1
    );
    let last_edit = k
        .fake
        .calls_to("chat.update")
        .into_iter()
        .rev()
        .find(|u| u["channel"] == fake_slack::INCIDENTS)
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
        .map(|e| e.kind.word().to_owned())
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
    // Only start-up's channel lookup reached Slack.
    assert!(
        k.fake
            .calls()
            .iter()
            .all(|c| c.method == "conversations.list"),
        "nothing reached Slack: {:#?}",
        k.fake.calls()
    );
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
            // Later commands come from the new channel once Klaxon has its id (its
            // announcement follows the channel's creation).
            channel = "C0000001".to_owned();
            assert!(
                k.fake
                    .until(|c| c.iter().any(|c| c.method == "chat.postMessage"))
                    .await
            );
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
        &k.fake
            .click("ack", 1, "U0BOB", fake_slack::INCIDENTS, "t-ack"),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let acked = |c: &[fake_slack::ApiCall]| {
        c.iter().any(|c| {
            c.method == "chat.update"
                && c.body["channel"] == fake_slack::INCIDENTS
                && c.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Acknowledged: @bob")
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
        .find(|u| u["channel"] == fake_slack::INCIDENTS)
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
            &k.fake.click(
                "resolve",
                1,
                "U0BOB",
                fake_slack::INCIDENTS,
                &format!("t-r{n}"),
            ),
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
    let payload = k
        .fake
        .click("resolve", 1, "U0EVE", fake_slack::INCIDENTS, "t-x")
        .to_string();
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
            k.fake
                .click("ack", 1, "U0CAROL", fake_slack::INCIDENTS, "s-2"),
        )
        .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "chat.postMessage"
                && c.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("@carol acknowledged")))
            .await
    );
    k.stop().await;
}

#[tokio::test]
async fn a_private_incident_is_a_private_channel_with_a_redacted_announcement() {
    let k = Running::start().await;
    let reply = k
        .say(
            "U0ONCALL",
            "C0GENERAL",
            "declare private sev1 Leaked signing key",
        )
        .await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or("")
            .contains("INC-1 declared (SEV1, private)"),
        "{reply}"
    );
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    let create = &k.fake.calls_to("conversations.create")[0];
    assert_eq!(create["is_private"], true, "{create}");
    // A change edits the announcement; neither it nor the post shows the title or the channel.
    k.say("U0ONCALL", "C0000001", "ack").await;
    k.say("U0ONCALL", "C0000001", "escalate").await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "chat.update"
                && c.body["channel"] == fake_slack::INCIDENTS
                && c.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Acknowledged: @oncall")))
            .await
    );
    assert!(
        k.fake
            .until(|c| c
                .iter()
                .filter(|c| c.method == "chat.postMessage"
                    && c.body["channel"] == fake_slack::INCIDENTS)
                .count()
                == 2)
            .await
    );
    let paging: Vec<Value> = k
        .fake
        .calls()
        .into_iter()
        .filter(|c| c.body["channel"] == fake_slack::INCIDENTS)
        .map(|c| c.body)
        .collect();
    assert_eq!(
        paging[0]["blocks"][0]["text"]["text"],
        "*🔒 🔴 SEV1 · INC-1 ·* private incident"
    );
    assert_eq!(
        paging[0]["blocks"][1]["fields"][1]["text"],
        "*Channel*\nprivate · ask @oncall for access"
    );
    for body in &paging {
        let text = body.to_string();
        assert!(
            !text.contains("Leaked") && !text.contains("leaked"),
            "{text}"
        );
        assert!(!text.contains("C0000001"), "{text}");
    }
    k.stop().await;
}

/// Waits until Klaxon has opened `n` forms; returns the last.
async fn opened(fake: &FakeSlack, n: usize) -> Value {
    assert!(
        fake.until(|c| c.iter().filter(|c| c.method == "views.open").count() >= n)
            .await,
        "{:#?}",
        fake.calls()
    );
    fake.views().pop().expect("a view")
}

#[tokio::test]
async fn bare_inc_opens_the_declare_form_and_its_submission_declares_once() {
    let k = Running::start().await;
    let trigger = k.fake.trigger();
    let reply = k.say_as("U0ALICE", "C0GENERAL", "", &trigger).await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or("")
            .contains("Fill in the form"),
        "{reply}"
    );
    let call = &k.fake.calls_to("views.open")[0];
    assert_eq!(call["trigger_id"], trigger.as_str());
    let view = opened(&k.fake, 1).await;
    assert_eq!(view["callback_id"], "klaxon.declare");
    let blocks: Vec<&str> = view["blocks"]
        .as_array()
        .map(|b| b.iter().filter_map(|b| b["block_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(blocks, ["title", "severity", "private"]);

    // A title Klaxon refuses is shown on the field, and nothing happens.
    let bad = fake_slack::submit(
        &view,
        "U0ALICE",
        fake_slack::declare_values("   ", Some("sev1"), false),
    );
    let answer: Value = fake_slack::interact(&k.url, &bad)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["response_action"], "errors", "{answer}");
    assert!(
        answer["errors"]["title"]
            .as_str()
            .unwrap_or("")
            .starts_with("An incident needs a title"),
        "{answer}"
    );

    // A good one is the same declare as typed; submitting it again changes nothing.
    let good = fake_slack::submit(
        &view,
        "U0ALICE",
        fake_slack::declare_values("Leaked <!channel> key", Some("sev1"), true),
    );
    let mut answers = Vec::new();
    for _ in 0..2 {
        let answer: Value = fake_slack::interact(&k.url, &good)
            .await
            .json()
            .await
            .expect("json");
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0]["response_action"], "update", "{}", answers[0]);
    let shown = answers[0]["view"]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or("");
    assert!(
        shown.starts_with("🚨 INC-1 declared (SEV1, private) → #inc-"),
        "{shown}"
    );
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let created = k.fake.calls_to("conversations.create");
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["is_private"], true);
    let invites = k.fake.calls_to("conversations.invite");
    assert_eq!(invites[0]["users"], serde_json::json!(["U0ALICE"]));
    k.stop().await;
}

#[tokio::test]
async fn the_shortcut_and_the_post_update_button_work_over_socket_mode() {
    let k = Running::start_socket().await;
    assert!(k.fake.until(|_| k.fake.connected()).await);
    k.fake
        .socket_envelope(
            "interactive",
            fake_slack::shortcut("U0ALICE", &k.fake.trigger()),
        )
        .await;
    let view = opened(&k.fake, 1).await;
    assert_eq!(view["callback_id"], "klaxon.declare");
    let answer = k
        .fake
        .socket_envelope(
            "interactive",
            fake_slack::submit(
                &view,
                "U0ALICE",
                fake_slack::declare_values("Search down", None, false),
            ),
        )
        .await;
    assert_eq!(answer["response_action"], "update", "{answer}");
    assert!(
        answer["view"]["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("INC-1 declared (SEV3)"),
        "the configured default severity: {answer}"
    );
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    // The pinned summary has Acknowledge, Post update and Resolve.
    let summary = k
        .fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|p| p["channel"] == "C0000001")
        .expect("summary");
    let buttons: Vec<&str> = summary["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "actions"))
        .and_then(|a| a["elements"].as_array())
        .map(|e| e.iter().filter_map(|b| b["action_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(buttons, ["klaxon.ack", "klaxon.update", "klaxon.resolve"]);
    // The paging channel's announcement has no Post update.
    let announcement = k.fake.calls_to("chat.postMessage")[0].to_string();
    assert!(!announcement.contains("klaxon.update"), "{announcement}");

    let mut click = k
        .fake
        .click("update", 1, "U0BOB", "C0000001", &k.fake.trigger());
    click["channel"]["name"] = "inc-x".into();
    k.fake.socket_envelope("interactive", click).await;
    let form = opened(&k.fake, 2).await;
    assert_eq!(form["callback_id"], "klaxon.update");
    let text = |t: &str| serde_json::json!({ "text": { "text": { "type": "plain_text_input", "value": t } } });
    let answer = k
        .fake
        .socket_envelope(
            "interactive",
            fake_slack::submit(&form, "U0BOB", text("Failed over <!here>")),
        )
        .await;
    assert_eq!(answer["response_action"], "update", "{answer}");
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "chat.postMessage"
                && c.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Failed over &lt;!here&gt;")))
            .await
    );
    // Once resolved, the form's refusal shows on its field.
    k.fake
        .socket_envelope(
            "interactive",
            k.fake.click("resolve", 1, "U0BOB", "C0000001", "r-1"),
        )
        .await;
    k.fake
        .socket_envelope(
            "interactive",
            k.fake
                .click("update", 1, "U0BOB", "C0000001", &k.fake.trigger()),
        )
        .await;
    let late = opened(&k.fake, 3).await;
    let answer = k
        .fake
        .socket_envelope(
            "interactive",
            fake_slack::submit(&late, "U0BOB", text("Too late")),
        )
        .await;
    assert_eq!(answer["response_action"], "errors", "{answer}");
    assert!(
        answer["errors"]["text"]
            .as_str()
            .unwrap_or("")
            .contains("INC-1 is resolved"),
        "{answer}"
    );
    k.stop().await;
}

/// The timeline of incident 1 of the Slack workspace, from the database.
async fn timeline_of(path: &std::path::Path) -> Vec<klaxon::store::Entry> {
    let store = Store::open(path.to_str().expect("utf-8"))
        .await
        .expect("store");
    let mut conn = store.conn().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Slack, "T0TEAM");
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, 1)
        .await
        .expect("q")
        .expect("INC-1");
    klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
}

fn captured(entries: &[klaxon::store::Entry]) -> Vec<(String, String, String)> {
    entries
        .iter()
        .filter(|e| e.kind.word() == "captured")
        .map(|e| {
            (
                klaxon::clock::long(e.at),
                e.actor.id.clone(),
                e.text.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn pinned_messages_join_the_timeline_over_the_events_api() {
    let k = Running::start().await;
    // Slack checks the request URL first.
    let challenge = fake_slack::event(
        &k.url,
        &serde_json::json!({ "token": "x", "challenge": "c-3f9a", "type": "url_verification" }),
        None,
    )
    .await;
    assert_eq!(challenge.status().as_u16(), 200);
    let body: Value = challenge.json().await.expect("json");
    assert_eq!(body["challenge"], "c-3f9a");
    // Unsigned events are refused.
    let resp = reqwest::Client::new()
        .post(format!("{}/slack/events", k.url))
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 401);

    k.say("U0ONCALL", "C0GENERAL", "declare sev2 Checkout errors")
        .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    let ch = "C0000001";
    let (first, reply) = ("1763888460.000100", "1763888470.000200");
    k.fake.add_message(
        ch,
        first,
        "U0ALICE",
        "Deploy 1234 went out <!channel> & errors began",
        None,
    );
    k.fake
        .add_message(ch, reply, "U0BOB", "Rolling it back", Some(first));
    let send = |id: &str, event: Value, retry: Option<u32>| {
        let url = k.url.clone();
        let payload = fake_slack::event_callback(id, event);
        async move {
            let resp = fake_slack::event(&url, &payload, retry).await;
            assert_eq!(resp.status().as_u16(), 200, "{payload}");
        }
    };
    let pin =
        |kind: &str, user: &str, ts: &str| fake_slack::reaction(kind, user, "pushpin", ch, ts);
    send("Ev1", pin("reaction_added", "U0BOB", first), None).await;
    // Slack's retry of the same event, and a second person's pin: still one entry.
    send("Ev1", pin("reaction_added", "U0BOB", first), Some(1)).await;
    send("Ev2", pin("reaction_added", "U0CAROL", first), None).await;
    // Other reactions, and pins outside incident channels, are not captured.
    send(
        "Ev3",
        fake_slack::reaction("reaction_added", "U0BOB", "thumbsup", ch, first),
        None,
    )
    .await;
    send(
        "Ev4",
        fake_slack::reaction("reaction_added", "U0BOB", "pushpin", "C0GENERAL", first),
        None,
    )
    .await;
    // A reply in a thread is found with conversations.replies.
    send("Ev5", pin("reaction_added", "U0ONCALL", reply), None).await;
    let history = k.fake.calls_to("conversations.history");
    assert_eq!(history[0]["latest"], first);
    assert_eq!(history[0]["inclusive"], "true");
    assert_eq!(history[0]["limit"], "1");
    assert!(!k.fake.calls_to("conversations.replies").is_empty());

    // `/inc timeline` shows them at their own times, escaped.
    let tl = k.say("U0ONCALL", ch, "timeline").await;
    let text = tl["text"].as_str().unwrap_or("");
    assert!(
        text.contains("Deploy 1234 went out &lt;!channel&gt; &amp; errors began"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");

    // An edit is followed; taking every pin off removes the entry; pinning again restores it.
    let edited = serde_json::json!({
        "type": "message", "subtype": "message_changed", "hidden": true, "channel": ch,
        "message": { "type": "message", "user": "U0ALICE", "text": "Deploy 1234 went out; errors began",
            "ts": first, "edited": { "user": "U0ALICE", "ts": "1763888520.000000" } },
        "previous_message": { "type": "message", "user": "U0ALICE", "text": "Deploy 1234 went out", "ts": first },
        "event_ts": "1763888520.000300", "ts": "1763888520.000300",
    });
    send("Ev6", edited, None).await;
    send("Ev7", pin("reaction_removed", "U0BOB", first), None).await;
    let path = k.store_path.clone();
    let one_pin_left = captured(&timeline_of(&path).await);
    assert_eq!(one_pin_left.len(), 2, "{one_pin_left:?}");
    send("Ev8", pin("reaction_removed", "U0CAROL", first), None).await;
    assert_eq!(captured(&timeline_of(&path).await).len(), 1);
    send("Ev9", pin("reaction_added", "U0CAROL", first), None).await;
    let deleted = serde_json::json!({
        "type": "message", "subtype": "message_deleted", "hidden": true, "channel": ch,
        "deleted_ts": reply, "event_ts": "1763888580.000400", "ts": "1763888580.000400",
        "previous_message": { "type": "message", "user": "U0BOB", "text": "Rolling it back", "ts": reply },
    });
    send("Ev10", deleted, None).await;
    assert_eq!(
        captured(&timeline_of(&path).await),
        [
            (
                "2025-11-23 09:01:00 UTC".to_owned(),
                "U0ALICE".to_owned(),
                "Deploy 1234 went out; errors began".to_owned()
            ),
            (
                "2025-11-23 09:01:10 UTC".to_owned(),
                "U0BOB".to_owned(),
                "Rolling it back (message deleted at 09:03 UTC)".to_owned()
            ),
        ]
    );

    // The postmortem's timeline has them, linked.
    let pm = k.say("U0ONCALL", ch, "postmortem").await;
    assert!(
        !pm["text"]
            .as_str()
            .unwrap_or(":warning:")
            .starts_with(":warning:"),
        "{pm}"
    );
    let _dir = k.stop().await;
    let store = Store::open(path.to_str().expect("utf-8"))
        .await
        .expect("store");
    let mut conn = store.conn().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Slack, "T0TEAM");
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, 1)
        .await
        .expect("q")
        .expect("INC-1");
    let draft = klaxon::store::postmortems::get(&mut conn, incident.id, None)
        .await
        .expect("q")
        .expect("a draft");
    assert!(
        draft.markdown.contains(
            "📌 Deploy 1234 went out; errors began ([message](<https://acme.slack.com/archives/C0000001/p1763888460000100>))"
        ),
        "{}",
        draft.markdown
    );
}

#[tokio::test]
async fn pins_over_socket_mode_are_captured_once() {
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
    k.fake.add_message(
        "C0000001",
        "1763888460.000100",
        "U0ALICE",
        "Index rebuild stuck at 40%",
        None,
    );
    let envelope = fake_slack::event_callback(
        "EvS1",
        fake_slack::reaction(
            "reaction_added",
            "U0BOB",
            "pushpin",
            "C0000001",
            "1763888460.000100",
        ),
    );
    // Socket Mode redelivers an envelope it has no acknowledgement for; the event id is the same.
    k.fake.socket_envelope("events_api", envelope.clone()).await;
    k.fake.socket_envelope("events_api", envelope).await;
    let path = k.store_path.clone();
    let _dir = k.stop().await;
    assert_eq!(
        captured(&timeline_of(&path).await),
        [(
            "2025-11-23 09:01:00 UTC".to_owned(),
            "U0ALICE".to_owned(),
            "Index rebuild stuck at 40%".to_owned()
        )]
    );
}

#[tokio::test]
async fn the_postmortem_draft_is_shared_as_a_real_file() {
    let k = Running::start().await;
    k.say(
        "U0ONCALL",
        "C0GENERAL",
        "declare sev2 Checkout <errors> & timeouts",
    )
    .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    k.say("U0ONCALL", "C0000001", "resolve Rolled back").await;
    let reply = k.say("U0ONCALL", "C0000001", "postmortem").await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or("")
            .contains("Postmortem draft v1 saved"),
        "{reply}"
    );
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "files.completeUploadExternal"))
            .await,
        "{:#?}",
        k.fake.calls()
    );
    let methods: Vec<String> = k
        .fake
        .calls()
        .into_iter()
        .map(|c| c.method)
        .filter(|m| m.starts_with("files.") || m == "upload")
        .collect();
    assert_eq!(
        methods,
        [
            "files.getUploadURLExternal",
            "upload",
            "files.completeUploadExternal"
        ]
    );
    let files = k.fake.shared_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert_eq!(file.channel, "C0000001");
    assert_eq!(file.filename, "INC-1-postmortem-v1.md");
    assert_eq!(file.title, "INC-1 postmortem draft v1");
    assert_eq!(file.content_type, "text/markdown");
    assert!(file.content.starts_with("# "), "{}", file.content);
    assert!(
        file.content.contains("Checkout <errors> & timeouts"),
        "{}",
        file.content
    );
    assert!(
        file.comment
            .starts_with("📝 Postmortem draft v1 of INC-1 by @oncall"),
        "{}",
        file.comment
    );
    // No code-block message any more.
    assert!(
        !k.fake
            .calls_to("chat.postMessage")
            .iter()
            .any(|p| p["text"].as_str().unwrap_or("").contains("```")),
    );
    k.stop().await;
}

#[tokio::test]
async fn a_burst_of_changes_is_one_announcement_edit_after_the_debounce_window() {
    use klaxon::clock::ManualClock;
    use klaxon_commands::{ChannelRef, Input, Invocation, PlatformKind, Tenant, UserRef};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path().join("k.db").to_str().expect("utf-8"))
        .await
        .expect("store");
    let clock = ManualClock::new(klaxon_tests::start_time());
    let recorder = Arc::new(klaxon_tests::recorder::Recorder::default());
    let mut apis: std::collections::BTreeMap<PlatformKind, Arc<dyn klaxon_commands::ChatApi>> =
        std::collections::BTreeMap::new();
    apis.insert(PlatformKind::Slack, recorder.clone());
    let config =
        Config::parse("checklist = []\n[slack]\nannouncement_debounce_ms = 2000").expect("config");
    let app =
        klaxon::app::App::new(store.clone(), config, Arc::new(clock.clone()), apis).expect("app");
    let tenant = Tenant::new(PlatformKind::Slack, "T0TEAM");
    let say = |channel: &str, text: &str| Invocation {
        tenant: tenant.clone(),
        channel: ChannelRef::new(channel, channel),
        user: UserRef::named("U0ALICE", "alice"),
        input: Input::Text(text.to_owned()),
        incident: None,
        delivery_id: None,
    };
    app.engine
        .handle(say("C0GENERAL", "declare sev2 Queue backlog"))
        .await;
    app.settle().await.expect("settle");
    let channel = "inc-2026-11-23-queue-backlog";
    assert_eq!(recorder.posts_in("incidents").len(), 1);
    // Three changes in the same second: the channel hears each at once, the paging channel
    // waits.
    for text in ["ack", "lead <@U0BOB>", "sev 1"] {
        let reply = app.engine.handle(say(channel, text)).await;
        assert_eq!(
            reply.kind,
            klaxon_commands::ReplyKind::Ok,
            "{}",
            reply.to_plain()
        );
    }
    app.settle().await.expect("settle");
    assert!(recorder.edits_in("incidents").is_empty());
    assert!(
        recorder
            .posts_in(channel)
            .iter()
            .any(|p| p.contains("Severity raised")),
        "{:?}",
        recorder.posts_in(channel)
    );
    app.advance(&clock, std::time::Duration::from_millis(1900))
        .await
        .expect("advance");
    assert!(recorder.edits_in("incidents").is_empty());
    app.advance(&clock, std::time::Duration::from_millis(100))
        .await
        .expect("advance");
    let edits = recorder.edits_in("incidents");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert!(
        edits[0].starts_with("🔴 SEV1 · INC-1 · Queue backlog"),
        "{edits:?}"
    );
    assert!(
        edits[0].contains("IC: @bob") || edits[0].contains("IC: @U0BOB"),
        "{edits:?}"
    );
    assert!(edits[0].contains("Acknowledged: @alice"), "{edits:?}");
    // A change after the window is its own edit, again after the window.
    clock.advance(std::time::Duration::from_secs(60));
    app.engine.handle(say(channel, "status contained")).await;
    app.settle().await.expect("settle");
    assert_eq!(recorder.edits_in("incidents").len(), 1);
    app.advance(&clock, std::time::Duration::from_secs(2))
        .await
        .expect("advance");
    let edits = recorder.edits_in("incidents");
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert!(edits[1].contains("Status: contained"), "{edits:?}");
    store.close().await;
}

#[tokio::test]
async fn socket_mode_reconnects_on_refresh_requested_and_loses_or_doubles_nothing() {
    let k = Running::start_socket().await;
    assert!(k.fake.until(|_| k.fake.connected()).await);
    let command = |channel: &str, text: &str, trigger: &str| {
        serde_json::json!({
            "team_id": "T0TEAM", "channel_id": channel, "user_id": "U0ONCALL", "command": "/inc",
            "text": text, "response_url": "https://hooks.slack.com/x", "trigger_id": trigger,
        })
    };
    k.fake
        .socket_command(command("C0GENERAL", "declare sev2 Cache stampede", "rc-1"))
        .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    let before = k
        .fake
        .socket_command(command("C0000001", "note before-refresh-91c", "rc-2"))
        .await;
    assert_eq!(k.fake.connections(), 1);
    k.fake.disconnect("refresh_requested");
    assert!(
        k.fake
            .until(|_| k.fake.connections() >= 2 && k.fake.connected())
            .await,
        "Klaxon opened a new connection"
    );
    // Slack redelivers an envelope it may not have seen acknowledged: same answer, no effect.
    let again = k
        .fake
        .socket_command(command("C0000001", "note before-refresh-91c", "rc-2"))
        .await;
    assert_eq!(before, again);
    // And the new connection carries new commands.
    let after = k
        .fake
        .socket_command(command("C0000001", "note after-refresh-5d2", "rc-3"))
        .await;
    assert!(
        after["text"].as_str().unwrap_or("").starts_with("✓ Noted"),
        "{after}"
    );
    let count = |c: &[fake_slack::ApiCall], marker: &str| {
        c.iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.body["text"].as_str().unwrap_or("").contains(marker)
            })
            .count()
    };
    assert!(k.fake.until(|c| count(c, "after-refresh-5d2") == 1).await);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let calls = k.fake.calls();
    assert_eq!(count(&calls, "before-refresh-91c"), 1);
    assert_eq!(count(&calls, "after-refresh-5d2"), 1);
    assert_eq!(k.fake.connections(), 2, "one reconnection, not a storm");
    k.stop().await;
}

#[tokio::test]
async fn a_pinned_message_klaxon_cannot_read_is_still_captured() {
    let k = Running::start().await;
    k.say("U0ONCALL", "C0GENERAL", "declare sev3 Mail delays")
        .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    // The fake has no such message: conversations.history and .replies find nothing.
    let event = fake_slack::event_callback(
        "EvU1",
        fake_slack::reaction(
            "reaction_added",
            "U0BOB",
            "pushpin",
            "C0000001",
            "1763888490.000900",
        ),
    );
    let resp = fake_slack::event(&k.url, &event, None).await;
    assert_eq!(resp.status().as_u16(), 200);
    // An edit later fills in what it says.
    let edited = fake_slack::event_callback(
        "EvU2",
        serde_json::json!({
            "type": "message", "subtype": "message_changed", "hidden": true, "channel": "C0000001",
            "message": { "type": "message", "user": "U0ALICE", "text": "MX records changed at 08:55",
                "ts": "1763888490.000900", "edited": { "user": "U0ALICE", "ts": "1763888530.000000" } },
            "event_ts": "1763888530.000100", "ts": "1763888530.000100",
        }),
    );
    let path = k.store_path.clone();
    let before = captured(&timeline_of(&path).await);
    assert_eq!(
        before,
        [(
            "2025-11-23 09:01:30 UTC".to_owned(),
            "U0ALICE".to_owned(),
            "(a message Klaxon could not read: Slack no longer has it)".to_owned()
        )]
    );
    let resp = fake_slack::event(&k.url, &edited, None).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        captured(&timeline_of(&path).await)[0].2,
        "MX records changed at 08:55"
    );
    let _dir = k.stop().await;
}
