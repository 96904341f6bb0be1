//! Slack buttons and forms: Acknowledge and Resolve clicks, bare `/inc` and the shortcut
//! opening the declare form, and the Post update form, over HTTP and Socket Mode.

use klaxon_tests::fake_slack;
use klaxon_tests::spawn::{Options, SlackHttp, SlackSocket, spawn};
use serde_json::Value;

use super::opened;

#[tokio::test]
async fn buttons_acknowledge_and_resolve_with_one_effect() {
    let k = spawn(SlackHttp, Options::default()).await;
    k.declare("declare sev1 Payments down").await;
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
    k.settled().await;
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
    let k = spawn(SlackSocket, Options::default()).await;
    assert!(k.fake.until(|_| k.fake.connected()).await);
    k.socket_declare("declare sev2 Search down", "s-1").await;
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
async fn bare_inc_opens_the_declare_form_and_its_submission_declares_once() {
    let k = spawn(SlackHttp, Options::default()).await;
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
    k.settled().await;
    let created = k.fake.calls_to("conversations.create");
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["is_private"], true);
    let invites = k.fake.calls_to("conversations.invite");
    assert_eq!(invites[0]["users"], serde_json::json!(["U0ALICE"]));
    k.stop().await;
}

#[tokio::test]
async fn the_shortcut_and_the_post_update_button_work_over_socket_mode() {
    let k = spawn(SlackSocket, Options::default()).await;
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
