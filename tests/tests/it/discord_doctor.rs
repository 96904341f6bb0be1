//! `klaxon doctor` against the fake Discord: a healthy guild passes, and each
//! misconfiguration gets its own failing line naming the fix.

use klaxon::app::PlatformSettings;
use klaxon::doctor::{self, Status};
use klaxon_tests::fake_discord::{
    self, APPLICATION_ID, BOT_ROLE, FakeDiscord, GUILD, PAGING, ROLE, TOKEN, perm,
};
use serde_json::json;

use klaxon_tests::spawn::discord::settings;

fn config() -> klaxon::config::Config {
    klaxon_tests::spawn::discord::config("")
}

/// Registers `/inc` in the fake guild, as Klaxon's start-up does.
async fn register(fake: &FakeDiscord) {
    let r = reqwest::Client::new()
        .put(format!(
            "{}/api/v10/applications/{APPLICATION_ID}/guilds/{GUILD}/commands",
            fake.api_url
        ))
        .header("authorization", format!("Bot {TOKEN}"))
        .json(&json!([{ "name": "inc", "description": "Incident response", "type": 1 }]))
        .send()
        .await
        .expect("register");
    assert!(r.status().is_success());
}

/// The failing lines of a doctor run.
async fn failures(s: &PlatformSettings) -> Vec<String> {
    doctor::run(&config(), s)
        .await
        .into_iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.line())
        .collect()
}

#[tokio::test]
async fn a_healthy_guild_passes_every_discord_check() {
    let fake = FakeDiscord::start().await;
    register(&fake).await;
    let checks = doctor::run(&config(), &settings(&fake)).await;
    let lines: Vec<String> = checks.iter().map(doctor::Check::line).collect();
    assert!(checks.iter().all(|c| c.status == Status::Ok), "{lines:#?}");
    for name in [
        "token",
        "permissions",
        "paging channel",
        "category",
        "mention",
        "/inc",
    ] {
        assert!(
            checks.iter().any(|c| c.name.ends_with(name)),
            "no {name} check: {lines:#?}"
        );
    }
}

#[tokio::test]
async fn each_discord_misconfiguration_names_its_fix() {
    let fake = FakeDiscord::start().await;
    let s = settings(&fake);
    // /inc never registered.
    let f = failures(&s).await;
    assert!(
        f.len() == 1
            && f[0].contains("/inc is not registered")
            && f[0].contains("DISCORD_GUILD_IDS"),
        "{f:#?}"
    );
    register(&fake).await;
    // A bad token stops there.
    let mut bad = s.clone();
    bad.discord_token = Some("not-the-token".to_owned().into());
    let f = failures(&bad).await;
    assert!(
        f.len() == 1 && f[0].contains("token") && f[0].contains("Reset Token"),
        "{f:#?}"
    );
    // No Pin Messages (an invite made before 2026-02-23), no Manage Channels.
    fake.set_bot_permissions(perm::KLAXON & !perm::PIN_MESSAGES & !perm::MANAGE_CHANNELS);
    let f = failures(&s).await;
    assert!(
        f.len() == 1
            && f[0].contains("Pin Messages (1 << 51)")
            && f[0].contains("Manage Channels (1 << 4)")
            && f[0].contains("permissions="),
        "{f:#?}"
    );
    fake.set_bot_permissions(perm::KLAXON);
    // The paging channel denies the bot Send Messages.
    fake.overwrite(PAGING, BOT_ROLE, 0, 0, perm::SEND_MESSAGES);
    let f = failures(&s).await;
    assert!(
        f.len() == 1 && f[0].contains("cannot post in #incidents"),
        "{f:#?}"
    );
    // The SEV1 role cannot be pinged.
    let fake = FakeDiscord::start().await;
    register(&fake).await;
    fake.set_role(ROLE, 0, false);
    let f = failures(&settings(&fake)).await;
    assert!(
        f.len() == 1 && f[0].contains("not mentionable") && f[0].contains("Mention Everyone"),
        "{f:#?}"
    );
    fake.set_bot_permissions(perm::KLAXON | perm::MENTION_EVERYONE);
    assert!(failures(&settings(&fake)).await.is_empty());
}

#[tokio::test]
async fn a_wrong_paging_channel_or_category_is_named() {
    let fake = FakeDiscord::start().await;
    register(&fake).await;
    let c = klaxon::config::Config::parse(&format!(
        "[discord]\npaging_channel = \"123456789012345678\"\ncategory = \"{}\"\n",
        fake_discord::GENERAL
    ))
    .expect("config");
    let f: Vec<String> = doctor::run(&c, &settings(&fake))
        .await
        .into_iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.line())
        .collect();
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(
        f[0].contains("channel 123456789012345678 is not in this guild"),
        "{f:#?}"
    );
    assert!(f[1].contains("is not a category"), "{f:#?}");
}

#[tokio::test]
async fn a_full_incidents_category_and_a_guild_at_500_channels_each_get_their_own_line() {
    let fake = FakeDiscord::start().await;
    register(&fake).await;
    // Discord's 50 channels in the incidents category: not a failure (new incident channels
    // overflow into "Incidents 2"), but its own line says so.
    for n in 0..50 {
        fake.add_channel(&format!("inc-old-{n}"), 0, Some(fake_discord::CATEGORY));
    }
    let checks = doctor::run(&config(), &settings(&fake)).await;
    let lines: Vec<String> = checks.iter().map(doctor::Check::line).collect();
    let category: Vec<String> = checks
        .iter()
        .filter(|c| c.name.ends_with("category"))
        .map(doctor::Check::line)
        .collect();
    assert!(
        category.len() == 1
            && category[0].contains("“Incidents” is full (50 channels)")
            && category[0].contains("new incident channels go to “Incidents 2”"),
        "{lines:#?}"
    );
    assert!(failures(&settings(&fake)).await.is_empty(), "{lines:#?}");
    // The guild reaches Discord's 500 channels: one failing line, with the fix.
    let used = fake.channels().len();
    for n in used..500 {
        fake.add_channel(&format!("other-{n}"), 0, None);
    }
    let f = failures(&settings(&fake)).await;
    assert!(
        f.len() == 1
            && f[0].contains("the guild has 500 channels, Discord's maximum")
            && f[0].contains("delete some"),
        "{f:#?}"
    );
}
