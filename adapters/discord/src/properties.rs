//! Property tests of Discord's edge: any interaction body is decoded or refused and planned
//! without a panic, and user text rendered as Discord markdown never forms a mention, with
//! allowed mentions that let nobody be notified by it.

use klaxon_commands::{Message, Reply, Rich, UserRef};
use proptest::prelude::*;
use serde_json::{Value, json};
use serenity::all::Interaction;

use crate::interaction::{Plan, plan, reply_message};
use crate::markdown::{self, Mentions};

/// Cases per property: enough to shake the decoder, few enough for a fast test run.
const CASES: u32 = 300;

const GUILD: &str = "800000000000000001";

/// An interaction as Discord sends it (the fake gateway's shape), of `kind`, with `data`.
fn base(kind: u8, data: Value) -> Value {
    json!({
        "id": "700000000000000001", "application_id": "900000000000000001", "type": kind,
        "guild_id": GUILD, "channel_id": "810000000000000001",
        "channel": { "id": "810000000000000001", "name": "general", "type": 0 },
        "member": {
            "user": { "id": "820000000000000001", "username": "bob", "global_name": "Bob",
                "discriminator": "0", "avatar": null, "bot": false, "public_flags": 0 },
            "nick": null, "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00",
            "deaf": false, "mute": false, "flags": 0, "pending": false,
            "permissions": "2248473465835073"
        },
        "token": "token-1", "version": 1, "locale": "en-US", "guild_locale": "en-US",
        "entitlements": [], "attachment_size_limit": 8_388_608,
        "authorizing_integration_owners": { "0": GUILD }, "context": 0,
        "app_permissions": "2248473465835073", "data": data
    })
}

/// The shapes Klaxon reads: `/inc <sub>`, `/inc <group> <sub>`, a button, the update form.
fn shapes() -> Vec<Value> {
    vec![
        base(
            2,
            json!({ "id": "500000000000000001", "name": "inc", "type": 1, "guild_id": GUILD,
            "options": [{ "name": "declare", "type": 1, "options": [
                { "name": "severity", "type": 3, "value": "sev2" },
                { "name": "title", "type": 3, "value": "Payments down" }
            ] }] }),
        ),
        base(
            2,
            json!({ "id": "500000000000000001", "name": "inc", "type": 1, "guild_id": GUILD,
            "options": [{ "name": "checklist", "type": 2, "options": [
                { "name": "check", "type": 1, "options": [{ "name": "item", "type": 4, "value": 2 }] }
            ] }] }),
        ),
        {
            let mut click = base(
                3,
                json!({ "custom_id": "klaxon:confirm:7:K7Q2MX", "component_type": 2 }),
            );
            click["message"] = json!({
                "id": "830000000000000001", "channel_id": "810000000000000001", "guild_id": GUILD,
                "author": { "id": "900000000000000001", "username": "klaxon", "discriminator": "0",
                    "avatar": null, "bot": true, "public_flags": 0 },
                "content": "", "timestamp": "2026-11-23T09:00:00.000000+00:00",
                "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
                "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0,
                "flags": 0, "components": []
            });
            click
        },
        base(
            5,
            json!({ "custom_id": "klaxon:update:7", "components": [{ "type": 1, "components": [
                { "type": 4, "custom_id": "text", "value": "Rolled back" }
            ] }] }),
        ),
    ]
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        discordish().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(&[
            "name", "type", "value", "options", "custom_id", "components", "component_type",
            "guild_id", "target_id", "resolved", "messages", "id", "member", "user", "data",
        ][..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

/// Strings that look like what Discord sends Klaxon (names, ids, custom ids), or anything.
fn discordish() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(&[
            "inc", "declare", "checklist", "check", "title", "severity", "item", "text", "0", "1",
            "18446744073709551615", "18446744073709551616", "-1", "klaxon:update",
            "klaxon:update:x", "klaxon:update:-9223372036854775808", "Add to timeline",
        ][..]).prop_map(str::to_owned),
        2 => custom_id(),
        1 => any::<String>(),
    ]
}

/// Button ids near Klaxon's `klaxon:<action>[?]:<incident>[:<code>]`.
fn custom_id() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(
            &["ack", "resolve", "confirm", "update", "declare", "frob", ""][..],
        ),
        any::<bool>(),
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            Just("99999999999999999999".to_owned()),
            any::<String>()
        ],
        proptest::option::of(any::<String>()),
    )
        .prop_map(|(action, ask, incident, code)| {
            let mut id = format!("klaxon:{action}{}:{incident}", if ask { "?" } else { "" });
            if let Some(code) = code {
                id.push(':');
                id.push_str(&code);
            }
            id
        })
}

/// A near-valid interaction: a real shape with some values replaced.
fn near_valid() -> impl Strategy<Value = Value> {
    let paths: &[&[&str]] = &[
        &["data", "custom_id"],
        &["data", "name"],
        &["data", "options", "0", "name"],
        &["data", "options", "0", "options"],
        &["data", "options", "0", "options", "0", "value"],
        &["data", "options", "0", "options", "0", "type"],
        &["data", "options", "0", "options", "1", "value"],
        &["data", "components", "0", "components", "0", "value"],
        &["data", "components", "0", "components", "0", "custom_id"],
        &["guild_id"],
        &["member"],
        &["channel"],
        &["type"],
        &["data", "type"],
        &["message"],
        &["message", "id"],
    ];
    (
        proptest::sample::select(shapes()),
        proptest::collection::vec((proptest::sample::select(paths), any_json()), 0..3),
    )
        .prop_map(|(mut shape, changes)| {
            for (path, value) in changes {
                if let Some(at) = pointer(&mut shape, path) {
                    *at = value;
                }
            }
            shape
        })
}

fn pointer<'a>(root: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    let pointer: String = path.iter().map(|p| format!("/{p}")).collect();
    root.pointer_mut(&pointer)
}

/// Plans an interaction; a refusal or question must be a non-empty, notify-nobody answer.
fn check_plan(interaction: &Interaction) -> Result<(), TestCaseError> {
    if let Plan::Respond(response) = plan(interaction) {
        let json = serde_json::to_value(&response)
            .map_err(|e| TestCaseError::fail(format!("unencodable response: {e}")))?;
        if let Some(content) = json["data"]["content"].as_str() {
            prop_assert!(!content.trim().is_empty(), "an empty answer: {json}");
            prop_assert!(no_mention_forms(content), "{content:?}");
            check_allowed(&json["data"]["allowed_mentions"])?;
        }
    }
    Ok(())
}

/// Allowed mentions that notify nobody: no `@everyone`/`@here`, no users, no roles.
fn check_allowed(allowed: &Value) -> Result<(), TestCaseError> {
    prop_assert_eq!(&allowed["parse"], &json!([]), "{}", allowed);
    prop_assert!(
        allowed["users"].as_array().is_none_or(Vec::is_empty),
        "{}",
        allowed
    );
    prop_assert!(
        allowed["roles"].as_array().is_none_or(Vec::is_empty),
        "{}",
        allowed
    );
    Ok(())
}

/// Whether text holds none of Discord's mention forms: `@everyone`, `@here`, `<@123>`,
/// `<@!123>`, `<@&123>` (<https://discord.com/developers/docs/reference#message-formatting>).
fn no_mention_forms(text: &str) -> bool {
    if text.contains("@everyone") || text.contains("@here") {
        return false;
    }
    !text.match_indices("<@").any(|(at, _)| {
        let rest = &text[at + 2..];
        let rest = rest.strip_prefix(['!', '&']).unwrap_or(rest);
        rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Text a user might type to ping people, or anything.
fn user_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(&[
            "@everyone", "@here", "<@123>", "<@!123>", "<@&456>", "<#789>", "@", "<", ">", "&",
            "\\", "\\@everyone", "<\\@123>", "@\u{200B}", "\u{200B}", "**", "`", "||", "\n",
            "- ", "> ", "# ", "[x](https://evil.example)", "@@everyone", "@every", "one",
            "\u{FF20}everyone", " ",
        ][..]).prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_interaction_body_is_decoded_or_refused_without_panicking(body in any::<Vec<u8>>()) {
        if let Ok(interaction) = serde_json::from_slice::<Interaction>(&body) {
            check_plan(&interaction)?;
        }
    }

    #[test]
    fn any_json_interaction_is_planned_without_panicking(value in any_json()) {
        if let Ok(interaction) = serde_json::from_value::<Interaction>(value) {
            check_plan(&interaction)?;
        }
    }

    #[test]
    fn near_valid_interactions_are_planned_without_panicking(value in near_valid()) {
        let body = value.to_string();
        if let Ok(interaction) = serde_json::from_str::<Interaction>(&body) {
            check_plan(&interaction)?;
        }
    }

    #[test]
    fn user_text_never_forms_a_mention_and_allows_none(
        title in user_text(),
        text in user_text(),
        label in proptest::sample::select(&["Status", "IC", "Declared", "Age"][..]),
    ) {
        let message = Message::new()
            .line(Rich::new().strong("🔴 SEV1 · INC-1 · ").user_text(title.clone()))
            .line(Rich::plain(text.clone()).user_text(text.clone()));
        let with_fields = message.clone().field(label, Rich::new().user_text(text.clone()));
        for m in [&message, &with_fields] {
            let rendered = markdown::render(m);
            prop_assert!(no_mention_forms(&rendered.content), "{:?}", rendered.content);
            if let Some(embed) = &rendered.embed {
                let json = serde_json::to_string(embed)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let shown: Value = serde_json::from_str(&json)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                for s in strings(&shown) {
                    prop_assert!(no_mention_forms(&s), "{s:?}");
                }
            }
            prop_assert_eq!(&rendered.mentions, &Mentions::default());
            let allowed = serde_json::to_value(rendered.mentions.allowed())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_allowed(&allowed)?;
            let reply = serde_json::to_value(reply_message(&Reply::ok(m.clone())))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_allowed(&reply["allowed_mentions"])?;
        }
        let topic = markdown::plain(&Rich::new().user_text(title.clone()));
        prop_assert!(no_mention_forms(&topic), "{topic:?}");
    }

    #[test]
    fn only_a_ping_of_a_real_id_is_allowed_to_notify(
        id in prop_oneof![user_text(), "[0-9]{1,20}"],
        name in user_text(),
    ) {
        let user = UserRef::named(id.clone(), name);
        let mut mentions = Mentions::default();
        let shown = markdown::line(&Rich::new().person(&user), &mut mentions);
        prop_assert_eq!(&mentions, &Mentions::default(), "a person notifies nobody");
        let mut mentions = Mentions::default();
        let pinged = markdown::line(&Rich::new().ping(&user), &mut mentions);
        let expected: Vec<u64> = id
            .parse::<u64>()
            .ok()
            .filter(|n| markdown::is_snowflake(&id) && *n != 0)
            .into_iter()
            .collect();
        prop_assert_eq!(&mentions.users, &expected);
        prop_assert!(mentions.roles.is_empty());
        for out in [shown, pinged] {
            let without_own = out.replace(&format!("<@{id}>"), "");
            prop_assert!(no_mention_forms(&without_own), "{id:?} → {out:?}");
        }
    }
}

/// Every string in a JSON value.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => vec![],
    }
}

#[test]
fn the_base_shapes_are_interactions_klaxon_acts_on() {
    for shape in shapes() {
        let interaction: Interaction =
            serde_json::from_value(shape.clone()).unwrap_or_else(|e| panic!("{e}: {shape}"));
        assert!(matches!(plan(&interaction), Plan::Invoke(_)), "{shape}");
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

/// Answers nothing the endpoint needs: a PING never reaches the engine.
struct NoEngine;

#[async_trait::async_trait]
impl klaxon_commands::Handler for NoEngine {
    async fn handle(&self, _: klaxon_commands::Invocation) -> Reply {
        Reply::ok_line(Rich::plain("ok"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// With a valid Ed25519 signature, any timestamp is checked without a panic (no wrapping
    /// arithmetic on `i64::MIN`), one more than five minutes from now is refused, and one
    /// within them is answered (PING → PONG).
    #[test]
    fn a_validly_signed_request_is_refused_outside_the_five_minute_window(
        stamp in stamp(),
        now in prop_oneof![Just(1_795_000_000i64), any::<i64>()],
    ) {
        use ed25519_dalek::Signer as _;
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let responder = crate::interaction::Responder {
            handler: std::sync::Arc::new(NoEngine),
            http: std::sync::Arc::new(serenity::all::Http::new("token")),
            deadline: std::time::Duration::from_secs(2),
        };
        let endpoint = crate::endpoint::Endpoint::new(
            &hex::encode(key.verifying_key().to_bytes()),
            responder,
        )
        .map_err(TestCaseError::fail)?;
        let timestamp = match &stamp {
            Stamp::Offset(d) => now.saturating_add(*d).to_string(),
            Stamp::At(t) => t.to_string(),
            Stamp::Text(s) => s.clone(),
        };
        let body = json!({
            "id": "900000000000000001", "application_id": "900000000000000002", "type": 1,
            "token": "t", "version": 1
        })
        .to_string();
        let signature = hex::encode(key.sign(format!("{timestamp}{body}").as_bytes()).to_bytes());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let answer = runtime.block_on(endpoint.handle(
            Some(&signature),
            Some(&timestamp),
            body.as_bytes(),
            now,
        ));
        let refused = matches!(answer, crate::endpoint::Answer::Unauthorized(_));
        let window = crate::endpoint::WINDOW_SECS.unsigned_abs();
        match timestamp.parse::<i64>() {
            Ok(t) if now.abs_diff(t) <= window => {
                prop_assert!(
                    matches!(&answer, crate::endpoint::Answer::Json(j) if j["type"] == 1),
                    "{timestamp:?} at {now} is fresh: {answer:?}"
                );
            }
            Ok(_) => prop_assert!(refused, "{timestamp:?} at {now} is stale: {answer:?}"),
            Err(_) => prop_assert!(refused, "{timestamp:?} is not a timestamp: {answer:?}"),
        }
    }
}
