//! Discord slash commands over the gateway: registration from the spec, the shared scenario
//! as typed options, the grammar's refusals, and titles that cannot ping or collide.

use klaxon::store::Store;
use klaxon_tests::fake_discord::{self, CATEGORY, GENERAL, GUILD, PAGING, ROLE};
use klaxon_tests::scenario;
use klaxon_tests::spawn::discord::{ONCALL, created_channel, ephemeral, next_id};
use klaxon_tests::spawn::{Discord, Options, spawn};
use serde_json::json;

#[tokio::test]
async fn slash_commands_are_registered_from_the_spec_in_one_overwrite() {
    let k = spawn(Discord, Options::default()).await;
    let puts = k.fake.calls_to(
        "PUT",
        &format!(
            "/applications/{}/guilds/{GUILD}/commands",
            fake_discord::APPLICATION_ID
        ),
    );
    assert_eq!(puts.len(), 1, "one bulk overwrite");
    let commands = puts[0].as_array().expect("a list");
    assert_eq!(commands.len(), 2);
    let inc = &commands[0];
    assert_eq!(inc["name"], "inc");
    assert_eq!(inc["dm_permission"], false);
    let subs = inc["options"].as_array().expect("subcommands");
    assert!(subs.len() <= 25);
    let sub = |name: &str| {
        subs.iter()
            .find(|s| s["name"] == name)
            .cloned()
            .expect(name)
    };
    let declare = sub("declare");
    assert_eq!(declare["type"], 1);
    assert_eq!(declare["options"][0]["name"], "title");
    assert_eq!(declare["options"][0]["type"], 3);
    let option = |name: &str| {
        declare["options"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["name"] == name))
            .cloned()
            .expect(name)
    };
    assert_eq!(option("private")["type"], 5, "a flag is a BOOLEAN option");
    assert_eq!(
        option("severity")["choices"],
        json!([
            {"name": "SEV1", "value": "sev1"}, {"name": "SEV2", "value": "sev2"},
            {"name": "SEV3", "value": "sev3"}, {"name": "SEV4", "value": "sev4"}
        ])
    );
    assert_eq!(
        sub("role")["options"][1]["type"],
        6,
        "people are USER options"
    );
    assert_eq!(
        sub("timeline")["options"][0]["type"],
        4,
        "counts are INTEGER"
    );
    assert_eq!(sub("checklist")["type"], 2, "a group");
    assert_eq!(commands[1]["name"], "Add to timeline");
    assert_eq!(commands[1]["type"], 3, "a message command");
    let _ = k.stop().await;
}

#[tokio::test]
async fn the_foundation_scenario_runs_over_the_gateway() {
    let k = spawn(Discord, Options::default()).await;
    let mut channel = GENERAL.to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        let response = k.say(ONCALL, &channel, line).await;
        let text = ephemeral(&response);
        assert!(!text.starts_with("⚠️"), "{line} → {text}");
        if n == 0 {
            assert!(
                k.fake
                    .until(|f| !f
                        .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
                        .is_empty())
                    .await
            );
            let (id, body) = created_channel(&k.fake);
            assert_eq!(
                body["name"],
                format!(
                    "inc-{}-checkout-api-returning-500s",
                    chrono::Utc::now().format("%Y-%m-%d")
                )
            );
            assert_eq!(body["type"], 0);
            assert_eq!(body["parent_id"], CATEGORY);
            assert!(body["topic"].as_str().unwrap_or("").contains("SEV2"));
            // The declarer can see the channel.
            assert!(
                body["permission_overwrites"]
                    .as_array()
                    .expect("overwrites")
                    .iter()
                    .any(|o| o["id"] == ONCALL && o["type"] == 1),
                "{body}"
            );
            channel = id;
        }
    }
    let resolved = k.announcement_edit("Resolved").await;
    assert_eq!(resolved["embeds"][0]["color"], 0x002E_A043);
    assert!(
        resolved["embeds"][0]["description"]
            .as_str()
            .unwrap_or("")
            .starts_with("**✅ Resolved · SEV1 · INC-1 ·** Checkout API returning 500s"),
        "{resolved}"
    );
    assert_eq!(
        resolved["components"],
        json!([]),
        "no buttons once resolved"
    );
    let posts = k.fake.calls_to("POST", "/channels/*/messages");
    // Every message says whom it may notify; nothing may ping everyone.
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
    let announcement = k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"));
    assert_eq!(
        announcement[0]["embeds"][0]["color"], 0x00F4_6D00,
        "SEV2 is orange"
    );
    assert_eq!(
        announcement[0]["components"][0]["components"][0]["custom_id"],
        "klaxon:ack:1"
    );
    // Raising to SEV1 paged the configured role, and only that role.
    let page = announcement
        .iter()
        .find(|p| {
            p["content"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("<@&{ROLE}>"))
        })
        .expect("the SEV1 page");
    assert_eq!(page["allowed_mentions"]["roles"], json!([ROLE]));
    assert!(
        posts
            .iter()
            .any(|p| p["content"].as_str().unwrap_or("").contains("📣 Update"))
    );
    assert_eq!(
        k.fake
            .calls_to("PUT", &format!("/channels/{channel}/pins/*"))
            .len(),
        1
    );
    let path = k.db.clone();
    let _dir = k.stop().await;
    let store = Store::open(&path).await.expect("store");
    let mut conn = store.read().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Discord, GUILD);
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
    assert_eq!(kinds.first().map(String::as_str), Some("declared"));
    assert_eq!(kinds.last().map(String::as_str), Some("resolved"));
    assert_eq!(kinds.len(), 8, "{kinds:?}");
}

#[tokio::test]
async fn bad_options_get_the_grammars_refusal_and_change_nothing() {
    let k = spawn(Discord, Options::default()).await;
    let r = k.say(ONCALL, GENERAL, "/inc ack").await;
    let text = ephemeral(&r);
    assert!(text.starts_with("⚠️"), "{text}");
    let r = k
        .fake
        .interact(fake_discord::slash_group(
            &next_id(),
            ONCALL,
            GENERAL,
            "checklist",
            "check",
            json!([{ "name": "item", "type": 4, "value": 0 }]),
        ))
        .await;
    let text = ephemeral(&r);
    let grammar = klaxon_commands::parse("check 0", klaxon_commands::PlatformKind::Discord)
        .expect_err("refused");
    assert!(
        text.contains(&grammar.text().replace('`', "\\`")) || text.contains(grammar.text()),
        "{text}"
    );
    let r = k
        .fake
        .interact(fake_discord::slash(
            &next_id(),
            ONCALL,
            GENERAL,
            "declare",
            json!([{ "name": "title", "type": 3, "value": "   " }]),
        ))
        .await;
    assert!(ephemeral(&r).starts_with("⚠️"));
    k.settled().await;
    assert!(
        k.fake
            .calls_to("POST", &format!("/guilds/{GUILD}/channels"))
            .is_empty()
    );
    assert!(k.fake.calls_to("POST", "/channels/*/messages").is_empty());
    let _ = k.stop().await;
}

#[tokio::test]
async fn titles_cannot_ping_or_format_and_names_never_collide() {
    let k = spawn(Discord, Options::default()).await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    k.fake.take_name(&format!("inc-{today}-everyone-here-1-x"));
    let r = k
        .fake
        .interact(fake_discord::slash(
            &next_id(),
            ONCALL,
            GENERAL,
            "declare",
            json!([{ "name": "title", "type": 3, "value": "@everyone @here <@&1> **x**" }]),
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
    assert_eq!(created["name"], format!("inc-{today}-everyone-here-1-x-2"));
    let announcement = &k
        .fake
        .calls_to("POST", &format!("/channels/{PAGING}/messages"))[0];
    let shown = announcement.to_string();
    assert!(
        !shown.contains("@everyone") && !shown.contains("@here"),
        "{shown}"
    );
    assert!(
        !shown.contains("<@&1>") && !shown.contains("**x**"),
        "{shown}"
    );
    assert_eq!(announcement["allowed_mentions"]["parse"], json!([]));
    assert_eq!(announcement["allowed_mentions"]["roles"], json!([]));
    let _ = k.stop().await;
}
