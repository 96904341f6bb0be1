//! `[discord]` and `[discord.guilds."<guild id>"]`: where incidents live on Discord. A guild
//! that is not listed uses the flat `[discord]` keys, which is all a single guild needs.

use klaxon_commands::Duration;
use serde::Deserialize;

use super::EscalationConfig;

/// `[discord]`: where incidents live on Discord. Discord names channels by id, so the paging
/// channel and the category are ids (right-click → Copy Channel ID).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// How long the announcement's edit waits, so that a burst of changes is one edit.
    #[serde(deserialize_with = "super::slack::debounce_ms")]
    pub announcement_debounce_ms: u64,
    /// The paging channel's id; `incidents.paging_channel` is used when absent.
    pub paging_channel: Option<DiscordChannelId>,
    /// The category incident channels are created under.
    pub category: Option<DiscordChannelId>,
    /// Who a SEV1 pages when it is declared or raised: a role `<@&123>` or a user `<@123>`.
    pub sev1_mention: Option<DiscordMention>,
    /// Escalation tiers on Discord (Discord mentions); `[escalation]` is used when absent.
    pub escalation: Option<EscalationConfig>,
    /// A reaction (an emoji such as "📌") that puts a message on its incident's timeline. Needs
    /// the privileged message content intent; without it, "Add to timeline" (right-click →
    /// Apps) does the same with no privileged intent.
    #[serde(deserialize_with = "capture_emoji")]
    pub capture_emoji: Option<String>,
    /// How long after resolve an incident's channel moves to the archive category, or `off`.
    pub archive_after: ArchiveAfter,
    /// The category archived incident channels move to; absent: "Incident archive", made when
    /// first needed.
    pub archive_category: Option<DiscordChannelId>,
    /// Per guild: `[discord.guilds."<guild id>"]`, overriding the keys above.
    pub guilds: std::collections::BTreeMap<String, GuildConfig>,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            announcement_debounce_ms: 1500,
            paging_channel: None,
            category: None,
            sev1_mention: None,
            escalation: None,
            capture_emoji: None,
            archive_after: ArchiveAfter(Some(Duration::from_secs(24 * 3600))),
            archive_category: None,
            guilds: std::collections::BTreeMap::new(),
        }
    }
}

/// How long after resolve an incident's channel is archived: a duration, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ArchiveAfter(pub Option<Duration>);

impl TryFrom<String> for ArchiveAfter {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "off" {
            return Ok(Self(None));
        }
        Duration::parse(&s)
            .map(|d| Self(Some(d)))
            .map_err(|_| format!("`{s}` is not a duration (like `1d`) or `off`"))
    }
}

/// One guild's places and people, each key overriding the flat `[discord]` one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuildConfig {
    /// The guild's paging channel, by id.
    pub paging_channel: Option<DiscordChannelId>,
    /// The category the guild's incident channels are created under, by id.
    pub category: Option<DiscordChannelId>,
    /// Who a SEV1 pages in this guild: a role `<@&123>` or a user `<@123>`.
    pub sev1_mention: Option<DiscordMention>,
    /// The guild's escalation tiers (Discord mentions).
    pub escalation: Option<EscalationConfig>,
    /// How long after resolve the guild's incident channels move to its archive category.
    pub archive_after: Option<ArchiveAfter>,
    /// The guild's archive category, by id.
    pub archive_category: Option<DiscordChannelId>,
}

impl DiscordConfig {
    /// What the keys' own types cannot say: the guilds' keys are guild ids, escalation tiers
    /// are Discord mentions, and several guilds each have their own paging channel.
    pub(super) fn check(&self) -> anyhow::Result<()> {
        check_escalation("discord", self.escalation.as_ref())?;
        for (id, guild) in &self.guilds {
            anyhow::ensure!(
                is_snowflake(id),
                "discord.guilds.{id:?}: the key must be a guild id (right-click the server, Copy Server ID)"
            );
            check_escalation(
                &format!("discord.guilds.\"{id}\""),
                guild.escalation.as_ref(),
            )?;
            anyhow::ensure!(
                self.guilds.len() == 1 || guild.paging_channel.is_some(),
                "discord.guilds.\"{id}\".paging_channel: with several guilds, each needs its own paging channel"
            );
        }
        Ok(())
    }
}

/// Escalation tiers on Discord must be Discord mentions (`at` is where they are: `discord` or
/// a guild's table).
fn check_escalation(at: &str, escalation: Option<&EscalationConfig>) -> anyhow::Result<()> {
    for tier in escalation.into_iter().flat_map(EscalationConfig::all) {
        anyhow::ensure!(
            is_discord_mention(tier) || tier.starts_with(super::TIER_PREFIX),
            "{at}.escalation: {tier:?} is not a Discord mention (<@&role> or <@user>) or a schedule layer (schedule:payments/primary)"
        );
    }
    Ok(())
}

fn capture_emoji<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let e = String::deserialize(d)?;
    if e.trim().is_empty() || e.chars().count() > 8 || e.is_ascii() {
        return Err(serde::de::Error::custom(
            "discord.capture_emoji must be an emoji such as \"📌\"",
        ));
    }
    Ok(Some(e))
}

/// A Discord channel's id (the paging channel, the incidents category).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DiscordChannelId(String);

impl TryFrom<String> for DiscordChannelId {
    type Error = String;
    fn try_from(id: String) -> Result<Self, String> {
        if is_snowflake(&id) {
            Ok(Self(id))
        } else {
            Err(format!(
                "{id:?} is not a channel id (digits; right-click the channel, Copy Channel ID)"
            ))
        }
    }
}

impl std::ops::Deref for DiscordChannelId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// A Discord mention an operator may configure: a role `<@&123>` or a user `<@123>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DiscordMention(String);

impl TryFrom<String> for DiscordMention {
    type Error = String;
    fn try_from(mention: String) -> Result<Self, String> {
        if is_discord_mention(&mention) {
            Ok(Self(mention))
        } else {
            Err(format!(
                "{mention:?} is not a role <@&123> or a user <@123>; @everyone and @here are never allowed"
            ))
        }
    }
}

impl std::ops::Deref for DiscordMention {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// A Discord id: digits only.
fn is_snowflake(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A Discord mention an operator may configure: `<@&role>` or `<@user>`.
fn is_discord_mention(s: &str) -> bool {
    s.strip_prefix("<@")
        .and_then(|m| m.strip_suffix('>'))
        .map(|m| m.strip_prefix('&').or(m.strip_prefix('!')).unwrap_or(m))
        .is_some_and(is_snowflake)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use klaxon_commands::{PlatformKind, Severity, Tenant};

    #[test]
    fn discord_values_are_per_platform_and_checked() {
        let c = Config::parse(
            r#"
            [escalation]
            default = ["<!subteam^S1>"]
            [discord]
            paging_channel = "123456789012345678"
            category = "123456789012345679"
            sev1_mention = "<@&42>"
            [discord.escalation]
            sev1 = ["<@&7>", "<@8>"]
            "#,
        )
        .expect("valid config");
        let discord = Tenant::new(PlatformKind::Discord, "800000000000000001");
        let slack = Tenant::new(PlatformKind::Slack, "T1");
        assert_eq!(
            c.paging_channel(&discord).id.as_deref(),
            Some("123456789012345678")
        );
        assert_eq!(c.paging_channel(&slack).name, "incidents");
        assert_eq!(c.tiers(&discord, Severity::Sev1), ["<@&7>", "<@8>"]);
        assert!(c.tiers(&discord, Severity::Sev2).is_empty());
        assert_eq!(c.tiers(&slack, Severity::Sev1), ["<!subteam^S1>"]);
        assert_eq!(c.sev1_mention(&discord), Some("<@&42>"));
        assert_eq!(c.sev1_mention(&slack), None);
        for bad in [
            "[discord]\npaging_channel = \"incidents\"",
            "[discord]\nsev1_mention = \"@everyone\"",
            "[discord]\nsev1_mention = \"<@&here>\"",
            "[discord.escalation]\ndefault = [\"<!subteam^S1>\"]",
            "[discord]\ncapture_emoji = \"pushpin\"",
            "[discord.guilds.\"x\"]\npaging_channel = \"1\"",
            "[discord.guilds.\"1\"]\npaging_channel = \"incidents\"",
            "[discord.guilds.\"1\"]\nsev1_mention = \"@here\"",
            "[discord.guilds.\"1\"]\npaging_channel = \"11\"\n[discord.guilds.\"2\"]\ncategory = \"22\"",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn discord_settings_are_per_guild_with_the_flat_keys_as_default() {
        let c = Config::parse(
            r#"
            [discord]
            paging_channel = "100"
            sev1_mention = "<@&1>"
            [discord.guilds."800000000000000001"]
            paging_channel = "101"
            category = "201"
            escalation.sev1 = ["<@&11>"]
            [discord.guilds."800000000000000002"]
            paging_channel = "102"
            sev1_mention = "<@&2>"
            "#,
        )
        .expect("valid config");
        let a = Tenant::new(PlatformKind::Discord, "800000000000000001");
        let b = Tenant::new(PlatformKind::Discord, "800000000000000002");
        let other = Tenant::new(PlatformKind::Discord, "800000000000000003");
        assert_eq!(c.paging_channel(&a).name, "101");
        assert_eq!(c.paging_channel(&b).name, "102");
        assert_eq!(c.paging_channel(&other).name, "100");
        assert_eq!(c.discord_category("800000000000000001"), Some("201"));
        assert_eq!(c.discord_category("800000000000000002"), None);
        assert_eq!(c.sev1_mention(&a), Some("<@&1>"));
        assert_eq!(c.sev1_mention(&b), Some("<@&2>"));
        assert_eq!(c.tiers(&a, Severity::Sev1), ["<@&11>"]);
        assert!(c.tiers(&b, Severity::Sev1).is_empty());
    }

    #[test]
    fn archiving_is_off_on_slack_a_day_on_discord_and_per_guild() {
        use klaxon_commands::Duration;
        let day = Duration::from_secs(24 * 3600);
        let slack = Tenant::new(PlatformKind::Slack, "T0TEAM");
        let a = Tenant::new(PlatformKind::Discord, "800000000000000001");
        let b = Tenant::new(PlatformKind::Discord, "800000000000000002");
        let c = Config::default();
        assert_eq!(c.archive_after(&slack), None);
        assert_eq!(c.archive_after(&a), Some(day));
        let c = Config::parse(
            r#"
            [slack]
            archive_after = "7d"
            [discord]
            archive_after = "off"
            archive_category = "300"
            [discord.guilds."800000000000000001"]
            archive_after = "12h"
            archive_category = "301"
            "#,
        )
        .expect("valid config");
        assert_eq!(
            c.archive_after(&slack),
            Some(Duration::from_secs(7 * 24 * 3600))
        );
        assert_eq!(c.archive_after(&a), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(c.archive_after(&b), None);
        assert_eq!(
            c.discord_archive_category("800000000000000001"),
            Some("301")
        );
        assert_eq!(
            c.discord_archive_category("800000000000000002"),
            Some("300")
        );
        let bad = Config::parse("[discord]\narchive_after = \"soon\"").expect_err("refused");
        assert!(
            format!("{bad:#}").contains("`soon` is not a duration"),
            "{bad:#}"
        );
        let bad = Config::parse("[discord]\narchive_category = \"archive\"").expect_err("refused");
        assert!(
            format!("{bad:#}").contains("\"archive\" is not a channel id"),
            "{bad:#}"
        );
    }
}
