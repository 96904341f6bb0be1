//! `klaxon doctor`'s Discord checks: the token, then for every guild Klaxon serves
//! (`DISCORD_GUILD_IDS` and `[discord.guilds]`) the permissions, paging channel, category,
//! role pings and `/inc` registration, as `klaxon_discord::doctor` finds them.

use std::collections::BTreeSet;

use klaxon_commands::{PlatformKind, Severity, Tenant};
use secrecy::ExposeSecret as _;

use super::Check;
use crate::app::PlatformSettings;
use crate::config::Config;

const PLATFORM: &str = "discord";

/// The guilds to check: the ones `/inc` is registered in and the ones configured.
fn guilds(config: &Config, settings: &PlatformSettings) -> BTreeSet<u64> {
    settings
        .discord_guild_ids
        .iter()
        .copied()
        .chain(config.discord.guilds.keys().filter_map(|g| g.parse().ok()))
        .collect()
}

/// What Klaxon expects of one guild, from the configuration.
fn expect(
    config: &Config,
    settings: &PlatformSettings,
    guild: u64,
) -> klaxon_discord::doctor::Expect {
    let tenant = Tenant::new(PlatformKind::Discord, guild.to_string());
    let paging = config.paging_channel(&tenant);
    let mut mentions: Vec<String> = config
        .sev1_mention(&tenant)
        .into_iter()
        .map(str::to_owned)
        .collect();
    for severity in Severity::ALL {
        for tier in config.tiers(&tenant, severity) {
            if !mentions.contains(tier) {
                mentions.push(tier.clone());
            }
        }
    }
    klaxon_discord::doctor::Expect {
        guild,
        paging_channel: paging.id.or(Some(paging.name)),
        category: config
            .discord_category(&guild.to_string())
            .map(str::to_owned),
        mentions,
        global: settings.discord_guild_ids.is_empty() && settings.discord_global_commands,
    }
}

fn check(f: klaxon_discord::doctor::Finding) -> Check {
    if f.ok {
        Check::ok(PLATFORM, &f.name, f.detail)
    } else {
        Check::fail(PLATFORM, &f.name, f.detail)
    }
}

/// Every Discord check, in order; a refused token stops there.
pub async fn checks(config: &Config, settings: &PlatformSettings) -> Vec<Check> {
    let Some(token) = &settings.discord_token else {
        return Vec::new();
    };
    let http = klaxon_discord::api::http(token.expose_secret(), &settings.discord_rest());
    let mut out = Vec::new();
    if settings.discord_application_id.is_none() {
        out.push(Check::fail(
            PLATFORM,
            "application id",
            "DISCORD_APPLICATION_ID is not set: copy it from Developer Portal → your application → General Information",
        ));
    }
    let (token, me) = klaxon_discord::doctor::token(&http).await;
    out.push(check(token));
    let Some(me) = me else { return out };
    let guilds = guilds(config, settings);
    if guilds.is_empty() {
        out.push(Check::fail(
            PLATFORM,
            "guilds",
            "no guild to serve: set DISCORD_GUILD_IDS to your server's id (right-click the server → Copy Server ID)",
        ));
    }
    for guild in guilds {
        let expect = expect(config, settings, guild);
        out.extend(
            klaxon_discord::doctor::guild(&http, me, &expect)
                .await
                .into_iter()
                .map(check),
        );
    }
    out
}
