//! Discord settings per guild: each guild's incidents are announced in its own paging channel
//! and page its own SEV1 role, and a guild not listed uses the flat `[discord]` keys.

use klaxon::config::Config;
use klaxon::store::outbox::{Op, Target};
use klaxon_commands::{PlatformKind, Tenant};
use klaxon_tests::TestBot;

/// The paging-channel posts a tenant's commands queued, as (channel, text).
async fn paging_posts(bot: &TestBot, tenant: &Tenant) -> Vec<(String, String)> {
    let mut conn = bot.store().read().await.expect("conn");
    klaxon::store::outbox::pending(&mut conn, &[PlatformKind::Discord], 500)
        .await
        .expect("pending")
        .into_iter()
        .filter(|p| p.tenant == *tenant)
        .filter_map(|p| match p.op {
            Op::Post {
                to: Target::Channel(c),
                message,
                ..
            } => Some((c.name, message.to_plain())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn each_guild_announces_in_its_own_paging_channel_and_pages_its_own_role() {
    let config = Config::parse(
        r#"
        checklist = []
        [discord]
        paging_channel = "700000000000000100"
        [discord.guilds."800000000000000001"]
        paging_channel = "700000000000000101"
        sev1_mention = "<@&300000000000000101>"
        [discord.guilds."800000000000000002"]
        paging_channel = "700000000000000102"
        sev1_mention = "<@&300000000000000102>"
        "#,
    )
    .expect("config");
    let bot = TestBot::with_config(config).await;
    let guild = |id: &str| Tenant::new(PlatformKind::Discord, id);
    for (id, title) in [
        ("800000000000000001", "Checkout down"),
        ("800000000000000002", "Search down"),
        ("800000000000000003", "Login down"),
    ] {
        let reply = bot
            .invoke(
                &guild(id),
                "alice",
                "700000000000000002",
                &format!("/inc declare sev1 {title}"),
                None,
            )
            .await;
        assert_eq!(
            reply.kind,
            klaxon_commands::ReplyKind::Ok,
            "{}",
            reply.to_plain()
        );
    }
    let a = paging_posts(&bot, &guild("800000000000000001")).await;
    assert!(
        !a.is_empty() && a.iter().all(|(c, _)| c == "700000000000000101"),
        "{a:?}"
    );
    assert!(
        a.iter().any(|(_, t)| t.contains("<@&300000000000000101>")),
        "{a:?}"
    );
    assert!(
        a.iter().all(|(_, t)| !t.contains("300000000000000102")),
        "{a:?}"
    );
    let b = paging_posts(&bot, &guild("800000000000000002")).await;
    assert!(
        !b.is_empty() && b.iter().all(|(c, _)| c == "700000000000000102"),
        "{b:?}"
    );
    assert!(
        b.iter().any(|(_, t)| t.contains("<@&300000000000000102>")),
        "{b:?}"
    );
    let other = paging_posts(&bot, &guild("800000000000000003")).await;
    assert!(
        !other.is_empty() && other.iter().all(|(c, _)| c == "700000000000000100"),
        "{other:?}"
    );
}
