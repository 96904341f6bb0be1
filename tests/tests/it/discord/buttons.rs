//! Discord buttons: ask first, then act once, and the update modal; an alert's Declare button.

use klaxon::config::Config;
use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD, PAGING};
use klaxon_tests::spawn::discord::{ONCALL, created_channel, ephemeral, next_id, settings};
use klaxon_tests::spawn::{Discord, Options, spawn};
use serde_json::json;

#[tokio::test]
async fn buttons_ask_first_then_act_once_and_the_modal_posts_an_update() {
    let k = spawn(Discord, Options::default()).await;
    ephemeral(
        &k.say(ONCALL, GENERAL, "/inc declare sev2 Payments timing out")
            .await,
    );
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/channels/{PAGING}/messages"))
                .is_empty())
            .await
    );
    let (channel, _) = created_channel(&k.fake);
    // Acknowledge from the announcement: one effect even when clicked twice.
    let ack = fake_discord::click(
        &next_id(),
        ONCALL,
        PAGING,
        "klaxon:ack:1",
        "650000000000000001",
    );
    let text = ephemeral(&k.fake.interact(ack.clone()).await);
    assert!(!text.starts_with("⚠️"), "{text}");
    let again = ephemeral(&k.fake.interact(ack).await);
    assert_eq!(text, again, "a redelivery gets the same reply");
    let edit = k.announcement_edit("Acknowledged").await;
    assert!(
        !edit["components"].to_string().contains("klaxon:ack:1"),
        "the Acknowledge button is gone: {edit}"
    );
    // Resolve asks first.
    let ask = k
        .fake
        .interact(fake_discord::click(
            &next_id(),
            ONCALL,
            PAGING,
            "klaxon:resolve?:1",
            "650000000000000001",
        ))
        .await;
    assert!(ephemeral(&ask).starts_with("Resolve INC-1?"));
    assert_eq!(
        ask["data"]["components"][0]["components"][0]["custom_id"],
        "klaxon:resolve:1"
    );
    // Post update (a button under the pinned summary) opens the update form…
    let summary = k
        .fake
        .calls_to("POST", &format!("/channels/{channel}/messages"))
        .into_iter()
        .find(|p| p["components"].to_string().contains("klaxon:update:1"))
        .expect("the summary has a Post update button");
    assert!(summary["content"].as_str().is_some_and(|c| !c.is_empty()));
    let form = k
        .fake
        .interact(fake_discord::click(
            &next_id(),
            ONCALL,
            &channel,
            "klaxon:update:1",
            "650000000000000002",
        ))
        .await;
    assert_eq!(form["type"], 9, "a modal: {form}");
    assert_eq!(form["data"]["custom_id"], "klaxon:update:1");
    assert_eq!(
        form["data"]["components"][0]["components"][0]["custom_id"],
        "text"
    );
    // …whose submission is the update.
    let r = k
        .fake
        .interact(fake_discord::submit(
            &next_id(),
            ONCALL,
            &channel,
            "klaxon:update:1",
            "text",
            "Failover done",
        ))
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    let r = k
        .fake
        .interact(fake_discord::click(
            &next_id(),
            ONCALL,
            PAGING,
            "klaxon:resolve:1",
            "650000000000000001",
        ))
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    k.announcement_edit("Resolved").await;
    assert!(
        k.fake
            .calls_to("POST", &format!("/channels/{channel}/messages"))
            .iter()
            .any(|p| p["content"]
                .as_str()
                .unwrap_or("")
                .contains("Failover done"))
    );
    let _ = k.stop().await;
}

#[tokio::test]
async fn an_alert_is_announced_on_discord_and_its_button_declares_once() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    s.alerts_token = Some("alert-token".to_owned().into());
    let mut cfg = Config::parse(&format!(
        "checklist = []\n[discord]\npaging_channel = \"{PAGING}\"\n\
         [[alerts.routes]]\nname = \"all\"\n\
         targets = [{{ platform = \"discord\", workspace = \"{GUILD}\", channel = \"{PAGING}\" }}]\n"
    ))
    .expect("config");
    cfg.discord.announcement_debounce_ms = 0;
    let k = spawn(
        Discord,
        Options::default().fake(fake).settings(s).config(cfg),
    )
    .await;
    let alert = json!({
        "title": "@everyone HighErrorRate", "severity": "sev2", "summary": "5xx above 5%",
        "source": "prometheus", "fingerprint": "fp-1", "labels": { "team": "payments" }
    });
    let r = reqwest::Client::new()
        .post(format!("{}/alerts/webhook", k.url))
        .bearer_auth("alert-token")
        .json(&alert)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/channels/{PAGING}/messages"))
                .is_empty())
            .await
    );
    let post = &k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"))[0];
    assert!(!post.to_string().contains("@everyone"), "{post}");
    assert_eq!(post["allowed_mentions"]["parse"], json!([]));
    let custom_id = post["components"][0]["components"][0]["custom_id"]
        .as_str()
        .expect("a Declare incident button")
        .to_owned();
    assert!(custom_id.starts_with("klaxon:declare"), "{custom_id}");
    let mut click_id = custom_id.clone();
    if custom_id.contains('?') {
        let ask = k
            .fake
            .interact(fake_discord::click(
                &next_id(),
                ONCALL,
                PAGING,
                &custom_id,
                "650000000000000009",
            ))
            .await;
        click_id = ask["data"]["components"][0]["components"][0]["custom_id"]
            .as_str()
            .expect("the confirming button")
            .to_owned();
    }
    for _ in 0..2 {
        let r = k
            .fake
            .interact(fake_discord::click(
                &next_id(),
                ONCALL,
                PAGING,
                &click_id,
                "650000000000000009",
            ))
            .await;
        assert_eq!(r["type"], 4, "{r}");
    }
    assert!(
        k.fake
            .until(|f| !f.calls_to("PUT", "/channels/*/pins/*").is_empty())
            .await
    );
    k.settled().await;
    assert_eq!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .len(),
        1,
        "two clicks declare once"
    );
    let _ = k.stop().await;
}
