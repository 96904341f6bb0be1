//! The fake Slack refuses what Slack refuses: one test per rule, calling the fake's Web API
//! directly as any client would (the rules and their citations are in
//! `tests/src/fake_slack/{web,rules}.rs`).

use klaxon_tests::fake_slack::{self, BOT_TOKEN, FakeSlack, INCIDENTS};
use serde_json::{Value, json};

/// One Web API call with the bot token: (HTTP status, body, `Retry-After`).
async fn raw(fake: &FakeSlack, method: &str, body: Value) -> (u16, Value, Option<String>) {
    let answer = reqwest::Client::new()
        .post(format!("{}/{method}", fake.api_url))
        .bearer_auth(BOT_TOKEN)
        .json(&body)
        .send()
        .await
        .expect("the fake answers");
    let status = answer.status().as_u16();
    let retry = answer
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, answer.json().await.unwrap_or(Value::Null), retry)
}

async fn call(fake: &FakeSlack, method: &str, body: Value) -> Value {
    raw(fake, method, body).await.1
}

/// The error Slack answers with, or "ok".
async fn outcome(fake: &FakeSlack, method: &str, body: Value) -> String {
    let v = call(fake, method, body).await;
    if v["ok"] == true {
        "ok".to_owned()
    } else {
        v["error"].as_str().unwrap_or("?").to_owned()
    }
}

/// A channel the bot created (so is in), and a message it posted there.
async fn channel_with_post(fake: &FakeSlack) -> (String, String) {
    let made = call(fake, "conversations.create", json!({ "name": "inc-test" })).await;
    let id = made["channel"]["id"].as_str().expect("id").to_owned();
    let posted = call(
        fake,
        "chat.postMessage",
        json!({ "channel": id, "text": "hi" }),
    )
    .await;
    (id, posted["ts"].as_str().expect("ts").to_owned())
}

#[tokio::test]
async fn methods_that_take_ids_refuse_a_channel_name() {
    let fake = FakeSlack::start().await;
    let (_, ts) = channel_with_post(&fake).await;
    let by_name = [
        (
            "chat.update",
            json!({ "channel": "inc-test", "ts": ts, "text": "x" }),
        ),
        (
            "pins.add",
            json!({ "channel": "inc-test", "timestamp": ts }),
        ),
        (
            "conversations.setTopic",
            json!({ "channel": "inc-test", "topic": "t" }),
        ),
        (
            "conversations.invite",
            json!({ "channel": "inc-test", "users": "U0BOB" }),
        ),
        (
            "reactions.add",
            json!({ "channel": "inc-test", "timestamp": ts, "name": "eyes" }),
        ),
        ("conversations.archive", json!({ "channel": "inc-test" })),
    ];
    for (method, body) in by_name {
        assert_eq!(
            outcome(&fake, method, body).await,
            "channel_not_found",
            "{method}"
        );
    }
}

#[tokio::test]
async fn post_message_takes_a_name_and_answers_with_the_channel_id() {
    let fake = FakeSlack::start().await;
    for channel in ["incidents", "#incidents", INCIDENTS] {
        let posted = call(
            &fake,
            "chat.postMessage",
            json!({ "channel": channel, "text": "x" }),
        )
        .await;
        assert_eq!(posted["channel"], INCIDENTS, "{posted}");
    }
    let nowhere = json!({ "channel": "no-such-channel", "text": "x" });
    assert_eq!(
        outcome(&fake, "chat.postMessage", nowhere).await,
        "channel_not_found"
    );
}

#[tokio::test]
async fn a_private_channel_the_bot_is_not_in_does_not_exist_for_it() {
    let fake = FakeSlack::start().await;
    fake.add_channel("G0SECRET", "secret", true, false);
    let post = json!({ "channel": "secret", "text": "x" });
    assert_eq!(
        outcome(&fake, "chat.postMessage", post).await,
        "channel_not_found"
    );
    let post = json!({ "channel": "G0SECRET", "text": "x" });
    assert_eq!(
        outcome(&fake, "chat.postMessage", post).await,
        "channel_not_found"
    );
    let info = json!({ "channel": "G0SECRET" });
    assert_eq!(
        outcome(&fake, "conversations.info", info).await,
        "channel_not_found"
    );
    let listed = call(
        &fake,
        "conversations.list",
        json!({ "types": "public_channel,private_channel" }),
    )
    .await;
    assert!(!listed.to_string().contains("G0SECRET"), "{listed}");
    // Invited, the bot sees it and may post.
    fake.add_channel("G0SECRET", "secret", true, true);
    let post = json!({ "channel": "G0SECRET", "text": "x" });
    assert_eq!(outcome(&fake, "chat.postMessage", post).await, "ok");
}

#[tokio::test]
async fn a_public_channel_needs_chat_write_public_or_membership() {
    let fake = FakeSlack::start().await;
    let post = json!({ "channel": INCIDENTS, "text": "x" });
    assert_eq!(outcome(&fake, "chat.postMessage", post.clone()).await, "ok");
    fake.remove_scope("chat:write.public");
    assert_eq!(
        outcome(&fake, "chat.postMessage", post).await,
        "not_in_channel"
    );
}

#[tokio::test]
async fn channel_names_follow_slacks_rules() {
    let fake = FakeSlack::start().await;
    let long = "a".repeat(81);
    for (name, error) in [
        ("", "invalid_name_required"),
        (long.as_str(), "invalid_name_maxlength"),
        ("Incident", "invalid_name_specials"),
        ("inc two", "invalid_name_specials"),
        ("inc.two", "invalid_name_specials"),
        ("--_", "invalid_name_punctuation"),
        ("incidents", "name_taken"),
        ("inc-ok_1", "ok"),
        (&"b".repeat(80), "ok"),
    ] {
        let got = outcome(&fake, "conversations.create", json!({ "name": name })).await;
        assert_eq!(got, error, "{name:?}");
    }
    // An archived channel keeps its name.
    fake.take_name("inc-old");
    let got = outcome(&fake, "conversations.create", json!({ "name": "inc-old" })).await;
    assert_eq!(got, "name_taken");
}

#[tokio::test]
async fn a_topic_over_250_characters_is_too_long() {
    let fake = FakeSlack::start().await;
    let (id, _) = channel_with_post(&fake).await;
    let topic = json!({ "channel": id, "topic": "é".repeat(251) });
    assert_eq!(
        outcome(&fake, "conversations.setTopic", topic).await,
        "too_long"
    );
    let topic = json!({ "channel": id, "topic": "é".repeat(250) });
    assert_eq!(outcome(&fake, "conversations.setTopic", topic).await, "ok");
    assert_eq!(
        fake.channel(&id).expect("channel").topic.chars().count(),
        250
    );
}

fn button(confirm: Value) -> Value {
    json!([{ "type": "actions", "elements": [{
        "type": "button", "action_id": "a", "value": "1",
        "text": { "type": "plain_text", "text": "Resolve" }, "confirm": confirm,
    }]}])
}

fn confirm(title: usize, text: usize, yes: usize, no: usize) -> Value {
    let plain = |n: usize| json!({ "type": "plain_text", "text": "x".repeat(n) });
    json!({ "title": plain(title), "text": { "type": "mrkdwn", "text": "x".repeat(text) },
            "confirm": plain(yes), "deny": plain(no) })
}

#[tokio::test]
async fn block_kit_limits_are_invalid_blocks() {
    let fake = FakeSlack::start().await;
    let section = |n: usize| json!({ "type": "section", "text": { "type": "mrkdwn", "text": "x".repeat(n) } });
    let too_many: Vec<Value> = (0..51).map(|_| section(1)).collect();
    let fifty: Vec<Value> = (0..50).map(|_| section(1)).collect();
    for (blocks, expected) in [
        (json!(too_many), "invalid_blocks"),
        (json!(fifty), "ok"),
        (json!([section(3001)]), "invalid_blocks"),
        (json!([section(3000)]), "ok"),
        (button(confirm(101, 1, 1, 1)), "invalid_blocks"),
        (button(confirm(1, 301, 1, 1)), "invalid_blocks"),
        (button(confirm(1, 1, 31, 1)), "invalid_blocks"),
        (button(confirm(1, 1, 1, 31)), "invalid_blocks"),
        (button(confirm(100, 300, 30, 30)), "ok"),
    ] {
        let body = json!({ "channel": INCIDENTS, "text": "x", "blocks": blocks });
        assert_eq!(outcome(&fake, "chat.postMessage", body).await, expected);
    }
    let empty = json!({ "channel": INCIDENTS, "text": "" });
    assert_eq!(outcome(&fake, "chat.postMessage", empty).await, "no_text");
}

#[tokio::test]
async fn invites_refuse_members_the_bot_itself_and_strangers() {
    let fake = FakeSlack::start().await;
    let (id, _) = channel_with_post(&fake).await;
    let invite = |users: &str| json!({ "channel": id, "users": users });
    assert_eq!(
        outcome(&fake, "conversations.invite", invite("U0BOB")).await,
        "ok"
    );
    assert_eq!(
        outcome(&fake, "conversations.invite", invite("U0BOB")).await,
        "already_in_channel"
    );
    // One person already there fails the whole call: nobody else is added.
    assert_eq!(
        outcome(&fake, "conversations.invite", invite("U0ALICE,U0BOB")).await,
        "already_in_channel"
    );
    assert!(
        !fake
            .channel(&id)
            .expect("channel")
            .members
            .contains("U0ALICE")
    );
    assert_eq!(
        outcome(&fake, "conversations.invite", invite(fake_slack::BOT_USER)).await,
        "cant_invite_self"
    );
    assert_eq!(
        outcome(&fake, "conversations.invite", invite("U0NOBODY")).await,
        "user_not_found"
    );
    // The bot must be in the channel to invite anyone.
    let outside = json!({ "channel": INCIDENTS, "users": "U0BOB" });
    assert_eq!(
        outcome(&fake, "conversations.invite", outside).await,
        "not_in_channel"
    );
}

#[tokio::test]
async fn pins_and_edits_need_a_message_that_exists() {
    let fake = FakeSlack::start().await;
    let (id, ts) = channel_with_post(&fake).await;
    let pin = |ts: &str| json!({ "channel": id, "timestamp": ts });
    assert_eq!(outcome(&fake, "pins.add", pin(&ts)).await, "ok");
    assert_eq!(outcome(&fake, "pins.add", pin(&ts)).await, "already_pinned");
    assert_eq!(
        outcome(&fake, "pins.add", pin("1.000001")).await,
        "message_not_found"
    );
    let edit = |ts: &str| json!({ "channel": id, "ts": ts, "text": "new" });
    assert_eq!(
        outcome(&fake, "chat.update", edit("1.000001")).await,
        "message_not_found"
    );
    fake.add_message(&id, "1763888460.000100", "U0ALICE", "mine", None);
    assert_eq!(
        outcome(&fake, "chat.update", edit("1763888460.000100")).await,
        "cant_update_message"
    );
    assert_eq!(outcome(&fake, "chat.update", edit(&ts)).await, "ok");
}

/// https://api.slack.com/methods/conversations.archive: each documented error, and the
/// `is_archived` answer to a post in an archived channel.
#[tokio::test]
async fn archived_channels_refuse_posts_and_a_second_archive() {
    let fake = FakeSlack::start().await;
    let (id, _) = channel_with_post(&fake).await;
    let name = fake.channel(&id).expect("the channel").name;
    assert_eq!(
        outcome(&fake, "conversations.archive", json!({ "channel": name })).await,
        "channel_not_found",
        "a name is not an ID"
    );
    assert_eq!(
        outcome(
            &fake,
            "conversations.archive",
            json!({ "channel": fake_slack::GENERAL })
        )
        .await,
        "cant_archive_general"
    );
    let archive = json!({ "channel": id });
    assert_eq!(
        outcome(&fake, "conversations.archive", archive.clone()).await,
        "ok"
    );
    assert_eq!(
        outcome(&fake, "conversations.archive", archive).await,
        "already_archived"
    );
    let post = json!({ "channel": id, "text": "x" });
    assert_eq!(
        outcome(&fake, "chat.postMessage", post).await,
        "is_archived"
    );
    let outside = json!({ "channel": INCIDENTS });
    assert_eq!(
        outcome(&fake, "conversations.archive", outside).await,
        "not_in_channel"
    );
}

fn modal() -> Value {
    json!({ "type": "modal", "title": { "type": "plain_text", "text": "Declare incident" }, "blocks": [] })
}

#[tokio::test]
async fn a_trigger_id_opens_one_view_within_three_seconds() {
    let fake = FakeSlack::start().await;
    let trigger = fake.trigger();
    let open = |t: &str, view: Value| json!({ "trigger_id": t, "view": view });
    assert_eq!(
        outcome(&fake, "views.open", open(&trigger, modal())).await,
        "ok"
    );
    assert_eq!(
        outcome(&fake, "views.open", open(&trigger, modal())).await,
        "exchanged_trigger_id"
    );
    let stale = fake.stale_trigger();
    assert_eq!(
        outcome(&fake, "views.open", open(&stale, modal())).await,
        "expired_trigger_id"
    );
    assert_eq!(
        outcome(&fake, "views.open", open("made-up", modal())).await,
        "invalid_trigger_id"
    );
    let mut long_title = modal();
    long_title["title"]["text"] = "x".repeat(25).into();
    assert_eq!(
        outcome(&fake, "views.open", open(&fake.trigger(), long_title)).await,
        "invalid_arguments"
    );
}

#[tokio::test]
async fn tier_rate_limits_are_enforced_when_asked() {
    let fake = FakeSlack::start().await;
    // Off by default: ordinary tests stay fast.
    for _ in 0..3 {
        let post = json!({ "channel": INCIDENTS, "text": "x" });
        assert_eq!(raw(&fake, "chat.postMessage", post).await.0, 200);
    }
    fake.enforce_rate_limits();
    let post = |c: &str| json!({ "channel": c, "text": "x" });
    // A short burst of 3, then one a second; a channel named or by ID is the same channel.
    for c in [INCIDENTS, "incidents", "#incidents"] {
        assert_eq!(raw(&fake, "chat.postMessage", post(c)).await.0, 200);
    }
    let (status, body, retry) = raw(&fake, "chat.postMessage", post(INCIDENTS)).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("ratelimited")));
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(fake.rate_limited("chat.postMessage"), 1);
    // The limit is per channel.
    assert_eq!(
        raw(&fake, "chat.postMessage", post("C0PAGING")).await.0,
        200
    );
    for n in 0..20 {
        let create = json!({ "name": format!("inc-rl-{n}") });
        assert_eq!(
            raw(&fake, "conversations.create", create).await.0,
            200,
            "{n}"
        );
    }
    let (status, _, retry) =
        raw(&fake, "conversations.create", json!({ "name": "inc-rl-x" })).await;
    assert_eq!(status, 429);
    let wait: u64 = retry.and_then(|r| r.parse().ok()).expect("Retry-After");
    assert!((1..=3).contains(&wait), "one call's refill (3 s): {wait}");
    assert_eq!(fake.rate_limited("conversations.create"), 1);
}

#[tokio::test]
async fn refused_tokens_and_missing_scopes_answer_as_slack_does() {
    let fake = FakeSlack::start().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/auth.test", fake.api_url))
        .bearer_auth(BOT_TOKEN)
        .send()
        .await
        .expect("answer");
    let scopes = answer
        .headers()
        .get("x-oauth-scopes")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(scopes.split(',').any(|s| s == "users:read"), "{scopes}");
    fake.remove_scope("users:read");
    let info = call(&fake, "users.info", json!({ "user": "U0ALICE" })).await;
    assert_eq!(
        (info["error"].as_str(), info["needed"].as_str()),
        (Some("missing_scope"), Some("users:read"))
    );
    let wrong = reqwest::Client::new()
        .post(format!("{}/auth.test", fake.api_url))
        .bearer_auth("xoxb-wrong")
        .send()
        .await
        .expect("answer")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(wrong["error"], "invalid_auth");
    fake.break_token("token_revoked");
    assert_eq!(
        outcome(&fake, "auth.test", json!({})).await,
        "token_revoked"
    );
}

#[tokio::test]
async fn conversations_list_pages_with_a_cursor() {
    let fake = FakeSlack::start().await;
    for n in 0..7 {
        fake.add_channel(&format!("C1PAGE{n}"), &format!("page-{n}"), false, false);
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..20 {
        let page = call(
            &fake,
            "conversations.list",
            json!({ "limit": "3", "cursor": cursor, "exclude_archived": "true" }),
        )
        .await;
        let channels = page["channels"].as_array().cloned().unwrap_or_default();
        assert!(channels.len() <= 3);
        seen.extend(
            channels
                .iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned)),
        );
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 11, "{seen:?}");
    assert!(seen.contains(&"incidents".to_owned()) && seen.contains(&"page-6".to_owned()));
}

#[tokio::test]
async fn joining_takes_a_public_channel_by_id_and_its_scope() {
    let fake = FakeSlack::start().await;
    fake.add_channel("C0PUBLIC", "public", false, false);
    fake.add_channel("C0SECRET", "secret", true, true);
    let join = |channel: &str| json!({ "channel": channel });
    assert_eq!(
        outcome(&fake, "conversations.join", join("public")).await,
        "channel_not_found",
        "a name is not an ID"
    );
    assert_eq!(
        outcome(&fake, "conversations.join", join("C0SECRET")).await,
        "method_not_supported_for_channel_type"
    );
    let first = call(&fake, "conversations.join", join("C0PUBLIC")).await;
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["channel"]["is_member"], true, "{first}");
    assert!(first.get("warning").is_none(), "{first}");
    let again = call(&fake, "conversations.join", join("C0PUBLIC")).await;
    assert_eq!(again["warning"], "already_in_channel", "{again}");
    let (id, _) = channel_with_post(&fake).await;
    assert_eq!(
        outcome(&fake, "conversations.archive", join(&id)).await,
        "ok"
    );
    assert_eq!(
        outcome(&fake, "conversations.join", join(&id)).await,
        "is_archived"
    );
    fake.remove_scope("channels:join");
    assert_eq!(
        outcome(&fake, "conversations.join", join("C0PUBLIC")).await,
        "missing_scope"
    );
}
