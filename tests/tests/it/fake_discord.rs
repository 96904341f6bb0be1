//! The fake Discord refuses what Discord refuses: one test per rule, calling its REST API as
//! serenity would.

use std::time::Duration;

use klaxon_tests::fake_discord::{
    self, APPLICATION_ID, BOT_ROLE, CATEGORY, FakeDiscord, GUILD, PAGING, ROLE, TOKEN, perm,
};
use serde_json::{Value, json};

async fn call(fake: &FakeDiscord, method: &str, path: &str, body: Value) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let r = reqwest::Client::new()
        .request(method, format!("{}/api/v10{path}", fake.api_url))
        .header("authorization", format!("Bot {TOKEN}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[track_caller]
fn refused(answer: &(u16, Value), status: u16, code: u64) {
    assert_eq!(answer.0, status, "{answer:?}");
    assert_eq!(answer.1["code"], code, "{answer:?}");
}

async fn post(fake: &FakeDiscord, channel: &str, body: Value) -> (u16, Value) {
    call(fake, "POST", &format!("/channels/{channel}/messages"), body).await
}

#[tokio::test]
async fn a_name_where_an_id_belongs_is_an_invalid_form_body() {
    let fake = FakeDiscord::start().await;
    let answer = post(&fake, "incidents", json!({ "content": "hi" })).await;
    refused(&answer, 400, 50035);
    assert_eq!(
        answer.1["errors"]["channel_id"]["_errors"][0]["code"],
        "NUMBER_TYPE_COERCE"
    );
    assert_eq!(post(&fake, PAGING, json!({ "content": "hi" })).await.0, 200);
}

#[tokio::test]
async fn channel_names_and_topics_have_discords_lengths() {
    let fake = FakeDiscord::start().await;
    let path = format!("/guilds/{GUILD}/channels");
    let long = "a".repeat(101);
    refused(
        &call(&fake, "POST", &path, json!({ "name": long })).await,
        400,
        50035,
    );
    refused(
        &call(&fake, "POST", &path, json!({ "name": "" })).await,
        400,
        50035,
    );
    let topic = "t".repeat(1025);
    refused(
        &call(&fake, "POST", &path, json!({ "name": "x", "topic": topic })).await,
        400,
        50035,
    );
    let ok = call(
        &fake,
        "POST",
        &path,
        json!({ "name": "a".repeat(100), "topic": "t".repeat(1024) }),
    )
    .await;
    assert_eq!(ok.0, 201, "{ok:?}");
    refused(
        &call(
            &fake,
            "PATCH",
            &format!("/channels/{PAGING}"),
            json!({ "topic": "t".repeat(1025) }),
        )
        .await,
        400,
        50035,
    );
}

#[tokio::test]
async fn messages_and_embeds_have_discords_limits() {
    let fake = FakeDiscord::start().await;
    let field = |value: &str| json!({ "name": "n", "value": value });
    let too_much = [
        json!({ "content": "x".repeat(2001) }),
        json!({ "embeds": [{ "description": "x".repeat(4097) }] }),
        json!({ "embeds": [{ "title": "x".repeat(257) }] }),
        json!({ "embeds": [{ "description": "d", "fields": [field(&"v".repeat(1025))] }] }),
        json!({ "embeds": [{ "description": "d", "fields": vec![field("v"); 26] }] }),
        json!({ "embeds": [{ "title": "x".repeat(256), "description": "x".repeat(4096),
                             "fields": vec![field(&"v".repeat(1000)); 2] }] }),
        json!({ "embeds": [{ "description": "d" }],
                "components": [{ "type": 1, "components": vec![json!({ "type": 2, "style": 1, "label": "b", "custom_id": "c" }); 6] }] }),
    ];
    for body in too_much {
        refused(&post(&fake, PAGING, body.clone()).await, 400, 50035);
    }
    refused(
        &post(&fake, PAGING, json!({ "content": "" })).await,
        400,
        50006,
    );
    let fits = json!({ "content": "x".repeat(2000),
        "embeds": [{ "title": "x".repeat(256), "description": "x".repeat(4096), "fields": vec![field(&"v".repeat(1024)); 1] }] });
    assert_eq!(post(&fake, PAGING, fits).await.0, 200);
}

#[tokio::test]
async fn unknown_channels_and_messages_are_10003_and_10008() {
    let fake = FakeDiscord::start().await;
    refused(
        &post(&fake, "123456789012345678", json!({ "content": "x" })).await,
        404,
        10003,
    );
    refused(
        &call(
            &fake,
            "PATCH",
            &format!("/channels/{PAGING}/messages/123456789012345678"),
            json!({ "content": "x" }),
        )
        .await,
        404,
        10008,
    );
    refused(
        &call(
            &fake,
            "PUT",
            &format!("/channels/{PAGING}/pins/123456789012345678"),
            json!(null),
        )
        .await,
        404,
        10008,
    );
    // A message is known only in its own channel.
    let (_, m) = post(&fake, PAGING, json!({ "content": "x" })).await;
    let id = m["id"].as_str().expect("id");
    let other = fake_discord::GENERAL;
    refused(
        &call(
            &fake,
            "PATCH",
            &format!("/channels/{other}/messages/{id}"),
            json!({ "content": "y" }),
        )
        .await,
        404,
        10008,
    );
}

#[tokio::test]
async fn missing_permissions_are_50013_and_pins_need_pin_messages() {
    let fake = FakeDiscord::start().await;
    let (_, m) = post(&fake, PAGING, json!({ "content": "x" })).await;
    let pin = format!("/channels/{PAGING}/pins/{}", m["id"].as_str().expect("id"));
    // Manage Messages alone no longer pins.
    fake.set_bot_permissions(perm::KLAXON & !perm::PIN_MESSAGES);
    refused(&call(&fake, "PUT", &pin, json!(null)).await, 403, 50013);
    fake.set_bot_permissions(perm::KLAXON);
    assert_eq!(call(&fake, "PUT", &pin, json!(null)).await.0, 204);
    fake.set_bot_permissions(perm::KLAXON & !perm::MANAGE_CHANNELS);
    refused(
        &call(
            &fake,
            "POST",
            &format!("/guilds/{GUILD}/channels"),
            json!({ "name": "x" }),
        )
        .await,
        403,
        50013,
    );
    // A channel overwrite that denies the bot Send Messages.
    fake.set_bot_permissions(perm::KLAXON);
    fake.overwrite(PAGING, BOT_ROLE, 0, 0, perm::SEND_MESSAGES);
    refused(
        &post(&fake, PAGING, json!({ "content": "x" })).await,
        403,
        50013,
    );
}

#[tokio::test]
async fn a_guild_holds_500_channels_and_the_501st_is_30013() {
    let fake = FakeDiscord::start().await;
    while fake.channels().len() < 500 {
        fake.add_channel("filler", 0, None);
    }
    refused(
        &call(
            &fake,
            "POST",
            &format!("/guilds/{GUILD}/channels"),
            json!({ "name": "one-more" }),
        )
        .await,
        400,
        30013,
    );
}

#[tokio::test]
async fn a_category_holds_50_channels() {
    let fake = FakeDiscord::start().await;
    let path = format!("/guilds/{GUILD}/channels");
    for n in 0..50 {
        let answer = call(
            &fake,
            "POST",
            &path,
            json!({ "name": format!("c{n}"), "parent_id": CATEGORY }),
        )
        .await;
        assert_eq!(answer.0, 201, "{answer:?}");
    }
    let answer = call(
        &fake,
        "POST",
        &path,
        json!({ "name": "c50", "parent_id": CATEGORY }),
    )
    .await;
    refused(&answer, 400, 50035);
    assert_eq!(
        answer.1["errors"]["parent_id"]["_errors"][0]["code"],
        "CHANNEL_PARENT_MAX_CHANNELS"
    );
    // Moving a channel into the full category is refused the same way.
    let moved = call(
        &fake,
        "PATCH",
        &format!("/channels/{PAGING}"),
        json!({ "parent_id": CATEGORY }),
    )
    .await;
    refused(&moved, 400, 50035);
    // A parent that is not a category is refused.
    let answer = call(
        &fake,
        "POST",
        &path,
        json!({ "name": "x", "parent_id": PAGING }),
    )
    .await;
    refused(&answer, 400, 50035);
}

#[tokio::test]
async fn topic_and_name_edits_are_two_per_ten_minutes_per_channel() {
    let fake = FakeDiscord::start().await;
    let path = format!("/channels/{PAGING}");
    for n in 0..2 {
        let ok = call(&fake, "PATCH", &path, json!({ "topic": format!("t{n}") })).await;
        assert_eq!(ok.0, 200, "{ok:?}");
    }
    let (status, body) = call(&fake, "PATCH", &path, json!({ "name": "renamed" })).await;
    assert_eq!(status, 429);
    let wait = body["retry_after"].as_f64().expect("retry_after");
    assert!(wait > 590.0 && wait <= 600.0, "{wait}");
    // Another channel has its own bucket, and a message edit is not limited this way.
    let other = fake_discord::GENERAL;
    assert_eq!(
        call(
            &fake,
            "PATCH",
            &format!("/channels/{other}"),
            json!({ "topic": "x" })
        )
        .await
        .0,
        200
    );
    fake.advance(Duration::from_secs(601));
    assert_eq!(
        call(&fake, "PATCH", &path, json!({ "topic": "t2" }))
            .await
            .0,
        200
    );
    assert_eq!(
        fake.channel(PAGING).expect("exists").topic.as_deref(),
        Some("t2")
    );
}

#[tokio::test]
async fn the_first_interaction_response_is_due_in_3_s_and_only_once() {
    let fake = FakeDiscord::start().await;
    let callback = |id: &str| format!("/interactions/{id}/token-{id}/callback");
    let late = fake_discord::ping("400000000000000901");
    fake.sent(&late);
    fake.advance(Duration::from_millis(3100));
    let answer = call(
        &fake,
        "POST",
        &callback("400000000000000901"),
        json!({ "type": 5 }),
    )
    .await;
    refused(&answer, 404, 10062);
    let once = fake_discord::ping("400000000000000902");
    fake.sent(&once);
    assert_eq!(
        call(
            &fake,
            "POST",
            &callback("400000000000000902"),
            json!({ "type": 5 })
        )
        .await
        .0,
        204
    );
    let again = call(
        &fake,
        "POST",
        &callback("400000000000000902"),
        json!({ "type": 5 }),
    )
    .await;
    refused(&again, 400, 40060);
    let never = call(
        &fake,
        "POST",
        &callback("400000000000000903"),
        json!({ "type": 5 }),
    )
    .await;
    refused(&never, 404, 10062);
}

#[tokio::test]
async fn follow_up_tokens_last_15_minutes() {
    let fake = FakeDiscord::start().await;
    let i = fake_discord::ping("400000000000000911");
    fake.sent(&i);
    let edit = format!("/webhooks/{APPLICATION_ID}/token-400000000000000911/messages/@original");
    fake.advance(Duration::from_secs(14 * 60));
    assert_eq!(
        call(&fake, "PATCH", &edit, json!({ "content": "x" }))
            .await
            .0,
        200
    );
    fake.advance(Duration::from_secs(2 * 60));
    refused(
        &call(&fake, "PATCH", &edit, json!({ "content": "y" })).await,
        401,
        50027,
    );
}

#[tokio::test]
async fn a_role_ping_needs_a_mentionable_role_or_mention_everyone() {
    let fake = FakeDiscord::start().await;
    let body = json!({ "content": format!("<@&{ROLE}> wake up"), "allowed_mentions": { "parse": [], "roles": [ROLE] } });
    let (_, m) = post(&fake, PAGING, body.clone()).await;
    assert_eq!(
        m["mention_roles"],
        json!([ROLE]),
        "a mentionable role pings"
    );
    fake.set_role(ROLE, 0, false);
    let (_, m) = post(&fake, PAGING, body.clone()).await;
    assert_eq!(
        m["mention_roles"],
        json!([]),
        "sent, but nobody is notified"
    );
    fake.set_bot_permissions(perm::KLAXON | perm::MENTION_EVERYONE);
    let (_, m) = post(&fake, PAGING, body).await;
    assert_eq!(
        m["mention_roles"],
        json!([ROLE]),
        "Mention Everyone pings any role"
    );
}
