//! Property tests of Slack's edge: the slash-command form, interaction and Events API JSON and
//! signed requests never panic the adapter, whatever arrives, and user text rendered as mrkdwn
//! never forms a mention that notifies anyone.

use klaxon_commands::{ChannelRef, Message, Rich, UserRef};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{SlashCommand, events, interaction, modal, mrkdwn};

/// A signing secret, as Slack shows it on the app's page.
const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Cases per property: enough to shake the parsers, few enough for a fast test run.
const CASES: u32 = 300;

/// Any JSON value, a few levels deep, with strings that look like what Slack sends.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        slackish().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Object keys Slack's payloads use, or anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&[
            "type", "team", "team_id", "id", "user", "channel", "actions", "action_id", "value",
            "trigger_id", "view", "callback_id", "state", "values", "private_metadata", "event",
            "event_id", "item", "ts", "reaction", "subtype", "message", "edited", "deleted_ts",
            "event_ts", "username", "name", "selected_option", "selected_options", "item_user",
            "text",
        ][..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Strings that look like Slack's values (types, ids, timestamps, action ids) or anything.
fn slackish() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&[
            "block_actions", "view_submission", "shortcut", "event_callback", "reaction_added",
            "reaction_removed", "message", "message_changed", "message_deleted", "pushpin",
            "pushpin::skin-tone-2", "klaxon.ack", "klaxon.resolve", "klaxon.confirm",
            "klaxon.declare", "klaxon.update", "klaxon.frob", "klaxon.declare.form",
            "klaxon.update.form", "T0TEAM", "U0ALICE", "C0INC", "1763888400.000100", "1763888400",
            "-9223372036854775808.1", "9223372036854775807.999999999", ".", "1.x", "7", "7:K7Q2MX",
            "0:42", ":", "x:y", "-1", "99999999999999999999", "{\"channel_id\":\"C1\",\"incident\":3}",
            "{}", "private",
        ][..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// A near-valid payload: one of Slack's real shapes with some of its values replaced.
fn near_valid() -> impl Strategy<Value = Value> {
    let shapes = vec![
        json!({
            "type": "block_actions", "team": { "id": "T0TEAM" },
            "user": { "id": "U0BOB", "username": "bob" },
            "channel": { "id": "C0INC", "name": "inc" }, "trigger_id": "t-1",
            "actions": [{ "action_id": "klaxon.confirm", "value": "7:K7Q2MX", "type": "button" }]
        }),
        json!({
            "type": "view_submission", "team": { "id": "T0TEAM" },
            "user": { "id": "U0BOB", "name": "bob" }, "trigger_id": "t-2",
            "view": {
                "id": "V1", "callback_id": "klaxon.declare.form",
                "private_metadata": "{\"channel_id\":\"C1\",\"incident\":3}",
                "state": { "values": {
                    "title": { "title": { "value": "Payments down" } },
                    "text": { "text": { "value": "Rolled back" } },
                    "severity": { "severity": { "selected_option": { "value": "sev2" } } },
                    "private": { "private": { "selected_options": [{ "value": "private" }] } }
                } }
            }
        }),
        json!({
            "type": "event_callback", "team_id": "T0TEAM", "event_id": "Ev1",
            "event": { "type": "reaction_added", "user": "U0BOB", "reaction": "pushpin",
                "item_user": "U0ALICE",
                "item": { "type": "message", "channel": "C0INC", "ts": "1763888400.000100" } }
        }),
        json!({
            "type": "event_callback", "team_id": "T0TEAM", "event_id": "Ev2",
            "event": { "type": "message", "subtype": "message_changed", "channel": "C0INC",
                "ts": "1763888401.000200",
                "message": { "ts": "1763888400.000100", "text": "new",
                    "edited": { "ts": "1763888401.000200" } } }
        }),
    ];
    (
        proptest::sample::select(shapes),
        proptest::collection::vec((proptest::collection::vec(key(), 1..4), any_json()), 0..4),
    )
        .prop_map(|(mut shape, changes)| {
            for (path, value) in changes {
                set(&mut shape, &path, value);
            }
            shape
        })
}

/// Puts `value` at `path`, creating objects on the way (replacing whatever was there).
fn set(root: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = root;
    for key in parents {
        if !at.is_object() {
            *at = json!({});
        }
        let Some(map) = at.as_object_mut() else {
            return;
        };
        at = map.entry(key.clone()).or_insert(Value::Null);
    }
    if !at.is_object() {
        *at = json!({});
    }
    if let Some(map) = at.as_object_mut() {
        map.insert(last.clone(), value);
    }
}

/// Every reader of an interaction or event: none may panic, whatever the payload.
fn read_all(payload: &Value) {
    let _ = interaction::invocation(payload);
    let _ = modal::submission(payload);
    let _ = events::parse(payload, "pushpin");
    let _ = events::parse(payload, "");
}

/// The tokens that notify in Slack mrkdwn: `<!channel>`, `<!here>`, `<!everyone>`, `<@U…>`,
/// `<!subteam^…>` (<https://api.slack.com/reference/surfaces/formatting#advanced>). Plain
/// `@here` or `@everyone` notifies only with `link_names`, which Klaxon never sets.
fn notifying_tokens(mrkdwn: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = mrkdwn;
    while let Some(start) = rest.find('<') {
        let tail = &rest[start..];
        let end = tail.find('>').map_or(tail.len(), |e| e + 1);
        let token = &tail[..end];
        if token.starts_with("<!") || token.starts_with("<@") || token.starts_with("<#") {
            found.push(token.to_owned());
        }
        rest = &tail[1..];
    }
    found
}

/// Text a user might type to ping people, or anything.
fn user_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(&[
            "<!channel>", "<!here>", "<!everyone>", "<@U0BOB>", "<@U0BOB|bob>", "<!subteam^S1>",
            "<!subteam^S1|@oncall>", "<#C0INC>", "@everyone", "@here", "&lt;!channel&gt;",
            "&lt;", "&gt;", "&amp;", "&", "<", ">", "<!", "<@", "!channel", "*bold*", "`x`",
            "<https://evil.example|click>", "<mailto:x@y.z>", "\u{FF1C}!channel\u{FF1E}",
            "\u{200B}", "\n", " ",
        ][..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

/// Undoes `mrkdwn::escape`, as Slack does when it shows the text.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_slash_command_form_is_read_or_refused_without_panicking(body in any::<String>()) {
        if let Ok(command) = serde_urlencoded::from_str::<SlashCommand>(&body) {
            let _ = command.invocation();
        }
    }

    #[test]
    fn a_slash_command_form_with_any_values_keeps_them_as_typed(
        team in any::<String>(),
        channel in any::<String>(),
        user in any::<String>(),
        text in user_text(),
        trigger in any::<String>(),
    ) {
        let body = serde_urlencoded::to_string([
            ("team_id", team.as_str()), ("channel_id", &channel), ("channel_name", "general"),
            ("user_id", &user), ("user_name", "bob"), ("command", "/inc"), ("text", &text),
            ("trigger_id", &trigger),
        ]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let command: SlashCommand = serde_urlencoded::from_str(&body)
            .map_err(|e| TestCaseError::fail(format!("{body:?}: {e}")))?;
        let invocation = command.invocation();
        prop_assert_eq!(&invocation.input, &klaxon_commands::Input::Text(text));
        prop_assert_eq!(invocation.delivery_id, (!trigger.is_empty()).then_some(trigger));
    }

    #[test]
    fn any_interaction_or_event_json_is_read_or_ignored_without_panicking(payload in any_json()) {
        read_all(&payload);
    }

    #[test]
    fn near_valid_interactions_and_events_are_read_or_ignored_without_panicking(
        payload in near_valid(),
    ) {
        read_all(&payload);
    }

    #[test]
    fn any_signature_timestamp_and_body_is_checked_without_panicking(
        signature in proptest::option::of(any::<String>()),
        timestamp in proptest::option::of(prop_oneof![
            any::<String>(),
            any::<i64>().prop_map(|t| t.to_string()),
        ]),
        body in any::<String>(),
    ) {
        let verified = crate::verify(
            SECRET,
            signature.as_deref(),
            timestamp.as_deref(),
            &body,
        );
        prop_assert!(verified.is_err(), "an unsigned or forged request was accepted");
    }

    #[test]
    fn user_text_in_mrkdwn_never_notifies_and_shows_as_typed(
        before in user_text(),
        text in user_text(),
        label in user_text(),
    ) {
        let line = Rich::plain("Title: ").user_text(text.clone());
        let rendered = mrkdwn::line(&line);
        prop_assert!(notifying_tokens(&rendered).is_empty(), "{text:?} → {rendered:?}");
        prop_assert_eq!(unescape(&rendered), format!("Title: {text}"));

        // A whole message: user text in lines and fields, Klaxon's words around it.
        let message = Message::new()
            .line(Rich::new().strong("🔴 SEV1 · INC-1 · ").user_text(before.clone()))
            .line(Rich::plain(before.clone()).user_text(text.clone()))
            .field(label.clone(), Rich::new().user_text(text.clone()));
        let text_form = mrkdwn::text(&message);
        prop_assert!(notifying_tokens(&text_form).is_empty(), "{text_form:?}");
        let blocks = Value::Array(mrkdwn::blocks(&message)).to_string();
        let blocks: Value = serde_json::from_str(&blocks)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for block in blocks.as_array().into_iter().flatten() {
            let mut texts = vec![block["text"]["text"].as_str().unwrap_or_default().to_owned()];
            texts.extend(block["fields"].as_array().into_iter().flatten()
                .map(|f| f["text"].as_str().unwrap_or_default().to_owned()));
            for t in texts {
                prop_assert!(notifying_tokens(&t).is_empty(), "{t:?}");
            }
        }
    }

    #[test]
    fn people_and_channels_never_render_a_broadcast_from_their_names(
        id in prop_oneof![user_text(), "[UW][A-Z0-9]{1,10}", "[CG][A-Z0-9]{1,10}"],
        name in user_text(),
    ) {
        let user = UserRef::named(id.clone(), name.clone());
        let channel = ChannelRef { id: Some(id.clone()), name: name.clone() };
        let rendered = mrkdwn::line(
            &Rich::new().person(&user).text(" ").ping(&user).text(" ").channel(&channel),
        );
        for token in notifying_tokens(&rendered) {
            // Only the span's own id may appear in a mention: never a broadcast, never a name.
            prop_assert!(
                token == format!("<@{id}>") || token == format!("<#{id}>"),
                "{id:?}/{name:?} → {rendered:?}"
            );
        }
    }
}

/// A signed request's timestamp: an offset from now, any number, the extremes, or any text.
#[derive(Debug, Clone)]
enum Stamp {
    Offset(i64),
    At(i64),
    Text(String),
}

fn stamp() -> impl Strategy<Value = Stamp> {
    prop_oneof![
        3 => (-1000i64..1000).prop_map(Stamp::Offset),
        1 => prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(i64::MIN + 1),
            Just(0),
            any::<i64>(),
        ]
        .prop_map(Stamp::At),
        1 => prop_oneof![
            proptest::sample::select(&[
                "", " ", "-", "+", "1e9", "0x10", "9223372036854775808",
                "-9223372036854775809", "1763888400.5", "١٧٦٣٨٨٨٤٠٠", "NaN",
            ][..])
            .prop_map(str::to_owned),
            any::<String>(),
        ]
        .prop_map(Stamp::Text),
    ]
}

/// Slack's v0 signature of `body` at `timestamp`, made with the signing secret
/// (<https://api.slack.com/authentication/verifying-requests-from-slack>).
fn sign(timestamp: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// With a valid signature, any timestamp is checked without a panic (no wrapping
    /// arithmetic on `i64::MIN`), and one more than five minutes from now is refused. A margin
    /// of ten seconds around the window keeps the clock's tick out of the verdict.
    #[test]
    fn a_validly_signed_request_is_refused_outside_the_five_minute_window(
        stamp in stamp(),
        body in any::<String>(),
    ) {
        let now = chrono::Utc::now().timestamp();
        let timestamp = match &stamp {
            Stamp::Offset(d) => now.saturating_add(*d).to_string(),
            Stamp::At(t) => t.to_string(),
            Stamp::Text(s) => s.clone(),
        };
        let signature = sign(&timestamp, &body);
        let verdict = crate::verify(SECRET, Some(&signature), Some(&timestamp), &body);
        let window = i64::try_from(crate::command::WINDOW_SECS).unwrap_or(i64::MAX);
        match timestamp.parse::<i64>() {
            Ok(t) if now.abs_diff(t) <= (window - 10).unsigned_abs() => {
                prop_assert!(verdict.is_ok(), "{timestamp:?} is fresh: {:?}", verdict.err());
            }
            Ok(t) if now.abs_diff(t) >= (window + 10).unsigned_abs() => {
                prop_assert!(verdict.is_err(), "{timestamp:?} is stale but was accepted");
            }
            Ok(_) => {}
            Err(_) => prop_assert!(verdict.is_err(), "{timestamp:?} is not a timestamp"),
        }
    }
}
