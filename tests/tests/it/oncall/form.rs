//! Slack's declare form with its on-call field, against the fake Slack on the manual clock: the
//! field lists the loaded schedules' layers, and a submission with one chosen invites and
//! pings its on-call person, as `--oncall` does.

use klaxon_tests::fake_slack::{self, GENERAL};
use klaxon_tests::spawn::{Options, SlackHttp, spawn};
use serde_json::{Value, json};

#[tokio::test]
async fn the_declare_form_pages_the_chosen_schedules_on_call_person() {
    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(&format!("[oncall]\ndir = {:?}\n", super::SCHEDULES))
            .manual_clock(),
    )
    .await;
    let trigger = k.fake.trigger();
    k.say_as("U0BOB", GENERAL, "", &trigger).await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "views.open"))
            .await
    );
    let view = k.fake.views().pop().expect("the form");
    let field = view["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["block_id"] == "oncall"))
        .cloned()
        .expect("an on-call field");
    assert_eq!(field["optional"], true);
    let offered: Vec<&str> = field["element"]["options"]
        .as_array()
        .map(|o| o.iter().filter_map(|o| o["value"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        offered,
        ["payments/primary", "payments/secondary", "payments/manager"]
    );

    // Monday 2026-11-23 09:00 UTC: U0ALICE holds payments/primary.
    let mut values = fake_slack::declare_values("Checkout slow", Some("sev2"), false);
    values["oncall"] = json!({ "oncall": { "type": "static_select", "selected_option": {
        "text": { "type": "plain_text", "text": "payments/primary" }, "value": "payments/primary" } } });
    let answer: Value = fake_slack::interact(&k.url, &fake_slack::submit(&view, "U0BOB", values))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["response_action"], "update", "{answer}");
    let shown = answer["view"]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(shown.contains("INC-1 declared (SEV2)"), "{shown}");
    k.settled().await;
    let invited: Vec<Value> = k
        .fake
        .calls_to("conversations.invite")
        .into_iter()
        .map(|c| c["users"].clone())
        .collect();
    assert!(invited.contains(&json!(["U0ALICE"])), "{invited:?}");
    let channel = k.fake.channel_named("inc-2026-11-23-checkout-slow");
    let posts: Vec<String> = channel
        .expect("the incident channel")
        .posts
        .values()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        posts.iter().any(|p| p.starts_with(
            "📟 <@U0ALICE>: you are on call for payments/primary, so you are paged for INC-1."
        )),
        "{posts:#?}"
    );
    k.stop().await;
}
