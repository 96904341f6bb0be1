//! `[discord.guilds."<guild id>"]`: where incidents live in each Discord guild. A guild that
//! is not listed uses the flat `[discord]` keys, which is all a single guild needs.

use serde::Deserialize;

use super::EscalationConfig;

/// One guild's places and people, each key overriding the flat `[discord]` one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuildConfig {
    /// The guild's paging channel, by id.
    pub paging_channel: Option<String>,
    /// The category the guild's incident channels are created under, by id.
    pub category: Option<String>,
    /// Who a SEV1 pages in this guild: a role `<@&123>` or a user `<@123>`.
    pub sev1_mention: Option<String>,
    /// The guild's escalation tiers (Discord mentions).
    pub escalation: Option<EscalationConfig>,
}
