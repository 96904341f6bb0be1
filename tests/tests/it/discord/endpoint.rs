//! Discord's signed HTTP interactions endpoint: Ed25519 signatures and the time window, and
//! the shared scenario answered like the gateway's.

use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD};
use klaxon_tests::scenario;
use klaxon_tests::spawn::discord::{
    ONCALL, ephemeral, next_id, post_signed, public_key_hex, settings, signing_key, user_id,
};
use klaxon_tests::spawn::{Discord, Options, spawn};
use serde_json::{Value, json};

#[tokio::test]
async fn the_http_endpoint_checks_signatures_and_answers_like_the_gateway() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    s.discord_public_key = Some(public_key_hex());
    let k = spawn(Discord, Options::default().fake(fake).settings(s)).await;
    let now = chrono::Utc::now().timestamp();
    let ping = fake_discord::ping(&next_id());
    let r = post_signed(&k.url, &ping, now, &signing_key()).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["type"], 1, "PONG");
    // Forged, stale and unsigned requests are refused and change nothing.
    let forged = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let declare = fake_discord::slash(
        &next_id(),
        ONCALL,
        GENERAL,
        "declare",
        json!([{ "name": "title", "type": 3, "value": "over http" }]),
    );
    assert_eq!(
        post_signed(&k.url, &declare, now, &forged)
            .await
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        post_signed(&k.url, &declare, now - 301, &signing_key())
            .await
            .status()
            .as_u16(),
        401
    );
    let unsigned = reqwest::Client::new()
        .post(format!("{}/discord/interactions", k.url))
        .body(declare.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status().as_u16(), 401);
    k.settled().await;
    assert!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .is_empty()
    );
    // A signed command is answered in the HTTP response itself.
    let r = post_signed(&k.url, &declare, now, &signing_key()).await;
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.expect("json");
    assert!(ephemeral(&body).contains("INC-1 declared"), "{body}");
    assert!(
        k.fake
            .until(|f| !f
                .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
                .is_empty())
            .await
    );
    let _ = k.stop().await;
}

#[tokio::test]
async fn the_foundation_scenario_runs_over_the_http_endpoint() {
    let fake = FakeDiscord::start().await;
    let mut s = settings(&fake);
    s.discord_public_key = Some(public_key_hex());
    let k = spawn(Discord, Options::default().fake(fake).settings(s)).await;
    let mut channel = GENERAL.to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        let (group, sub, options) = scenario::discord_options(line, &user_id);
        let id = next_id();
        let interaction = match group {
            Some(g) => fake_discord::slash_group(&id, ONCALL, &channel, g, &sub, options),
            None => fake_discord::slash(&id, ONCALL, &channel, &sub, options),
        };
        let now = chrono::Utc::now().timestamp();
        let r = post_signed(&k.url, &interaction, now, &signing_key()).await;
        assert_eq!(r.status().as_u16(), 200, "{line}");
        let body: Value = r.json().await.expect("json");
        let text = ephemeral(&body);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
        if n == 0 {
            channel = k.new_channel(line).await;
        }
    }
    let resolved = k.announcement_edit("Resolved").await;
    assert!(
        resolved["embeds"][0]["description"]
            .as_str()
            .unwrap_or("")
            .starts_with("**✅ Resolved · SEV1 · INC-1 ·** Checkout API returning 500s"),
        "{resolved}"
    );
    // Every message says whom it may notify, as over the gateway; nothing may ping everyone.
    for call in k.fake.calls() {
        if call.path.contains("/messages") && call.method != "PUT" {
            assert!(call.body.get("allowed_mentions").is_some(), "{call:?}");
            assert_eq!(
                call.body["allowed_mentions"]["parse"],
                json!([]),
                "{call:?}"
            );
        }
    }
    let _ = k.stop().await;
}
