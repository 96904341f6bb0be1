//! Slack over signed HTTP: the shared scenario, signatures and body limits, escaping,
//! naming collisions and rate limits, retried deliveries and private incidents.

use klaxon::store::Store;
use klaxon_tests::fake_slack::{self, FakeSlack, SIGNING_SECRET};
use klaxon_tests::scenario;
use klaxon_tests::spawn::{Options, SlackHttp, spawn};
use serde_json::Value;

use super::slack_mentions;

#[tokio::test]
async fn the_foundation_scenario_runs_over_signed_http() {
    let k = spawn(SlackHttp, Options::default()).await;
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
            // Later commands come from the new channel, by its id, once Klaxon has it: the
            // summary posted there follows the channel's creation and its record (the
            // announcement in the paging channel waits for neither, past 2 s).
            channel = "C0000001".to_owned();
            assert!(
                k.fake
                    .until(|c| c
                        .iter()
                        .any(|c| c.method == "chat.postMessage" && c.body["channel"] == "C0000001"))
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
    let path = k.db.clone();
    let _dir = k.stop().await;
    // The timeline is there after the process is gone.
    let store = Store::open(&path).await.expect("store");
    let mut conn = store.read().await.expect("conn");
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
    let k = spawn(SlackHttp, Options::default()).await;
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
    k.settled().await;
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
    let k = spawn(SlackHttp, Options::default().fake(fake)).await;
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
    let k = spawn(SlackHttp, Options::default()).await;
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
    k.settled().await;
    assert_eq!(k.fake.calls_to("conversations.create").len(), 1);
    k.stop().await;
}

#[tokio::test]
async fn a_private_incident_is_a_private_channel_with_a_redacted_announcement() {
    let k = spawn(SlackHttp, Options::default()).await;
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
