//! `[discord]` and `[discord.guilds."<guild id>"]`: where incidents live on Discord. A guild
//! that is not listed uses the flat `[discord]` keys, which is all a single guild needs.

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
            guilds: std::collections::BTreeMap::new(),
        }
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
            is_discord_mention(tier),
            "{at}.escalation: {tier:?} is not a Discord mention (<@&role> or <@user>)"
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
}
