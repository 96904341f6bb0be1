//! What Klaxon posts on Discord for a private incident (a hidden channel, a redacted
//! announcement), and the postmortem draft as a Markdown attachment.

use klaxon_tests::fake_discord::{self, GENERAL, GUILD, PAGING};
use klaxon_tests::spawn::discord::{ONCALL, created_channel, ephemeral, next_id};
use klaxon_tests::spawn::{Discord, Options, spawn};
use serde_json::json;

#[tokio::test]
async fn a_private_incident_hides_its_channel_and_redacts_the_announcement() {
    let k = spawn(Discord, Options::default()).await;
    let r = k
        .fake
        .interact(fake_discord::slash(
            &next_id(),
            ONCALL,
            GENERAL,
            "declare",
            json!([
                { "name": "title", "type": 3, "value": "Leaked credentials in CI logs" },
                { "name": "severity", "type": 3, "value": "sev1" },
                { "name": "private", "type": 5, "value": true }
            ]),
        ))
        .await;
    assert!(!ephemeral(&r).starts_with("⚠️"));
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/channels/{PAGING}/messages"))
                .is_empty())
            .await
    );
    let (_, created) = created_channel(&k.fake);
    let overwrites = created["permission_overwrites"]
        .as_array()
        .expect("overwrites");
    let everyone = overwrites
        .iter()
        .find(|o| o["id"] == GUILD && o["type"] == 0)
        .expect("@everyone is denied");
    assert_eq!(everyone["deny"], "1024", "VIEW_CHANNEL");
    assert!(
        overwrites
            .iter()
            .any(|o| o["id"] == fake_discord::BOT_ID && o["type"] == 1)
    );
    assert!(
        overwrites
            .iter()
            .any(|o| o["id"] == ONCALL && o["type"] == 1)
    );
    for post in k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"))
    {
        let shown = post.to_string();
        assert!(
            !shown.contains("Leaked") && !shown.contains("credentials"),
            "{shown}"
        );
    }
    let _ = k.stop().await;
}

#[tokio::test]
async fn the_postmortem_draft_is_shared_as_a_markdown_attachment() {
    let k = spawn(Discord, Options::default()).await;
    let channel = k.declare("/inc declare sev2 Cache stampede").await;
    for line in ["/inc resolve TTL jitter added", "/inc postmortem"] {
        let text = ephemeral(&k.say(ONCALL, &channel, line).await);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
    }
    let uploaded = k
        .fake
        .until(|f| {
            f.calls_to("POST", &format!("/channels/{channel}/messages"))
                .iter()
                .any(|m| m["files"].as_array().is_some_and(|f| !f.is_empty()))
        })
        .await;
    assert!(uploaded, "{:#?}", k.fake.calls());
    let message = k
        .fake
        .calls_to("POST", &format!("/channels/{channel}/messages"))
        .into_iter()
        .find(|m| m["files"].as_array().is_some_and(|f| !f.is_empty()))
        .expect("upload");
    let file = &message["files"][0];
    assert!(
        file["filename"].as_str().unwrap_or("").ends_with(".md"),
        "{file}"
    );
    // Discord matches a file to its metadata by `files[n]` and `attachments[].id` (Reference >
    // Uploading Files).
    assert_eq!(file["field"], json!("files[0]"), "{message}");
    assert_eq!(message["attachments"][0]["id"], json!(0), "{message}");
    assert_eq!(
        message["attachments"][0]["filename"], file["filename"],
        "{message}"
    );
    assert!(
        file["content"]
            .as_str()
            .unwrap_or("")
            .contains("Cache stampede")
    );
    assert_eq!(message["allowed_mentions"]["parse"], json!([]));
    let _ = k.stop().await;
}
