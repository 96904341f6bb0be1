//! `klaxon.toml`: one typed, strict configuration, with the seeds' defaults.
//!
//! Unknown keys are errors. The file is optional; every setting has a default. Secrets (platform
//! tokens) never live here: they come from the environment, in the adapters' own issues.
//!
//! One file a section. A value is checked as it is read (a newtype, or a `deserialize_with`
//! that names its key), so `Config::validate` holds only what no single key can say.

use std::path::Path;

use anyhow::Context as _;
use klaxon_commands::{ChannelRef, Duration, PlatformKind, Severity, Tenant};
use serde::Deserialize;

mod checklist;
mod discord;
mod escalation;
mod hours;
mod incidents;
mod oncall;
mod postmortem;
mod retention;
mod runbooks;
mod severity;
mod slack;
mod web;

pub use checklist::{ChecklistItem, Trigger, default_checklist};
pub use discord::{ArchiveAfter, DiscordChannelId, DiscordConfig, DiscordMention, GuildConfig};
pub use escalation::{EscalationConfig, TIER_PREFIX, Tier};
pub use hours::{BusinessHours, RemindersConfig};
pub use incidents::{ChannelPrefix, IncidentsConfig};
pub use oncall::OncallConfig;
pub use postmortem::PostmortemConfig;
pub use retention::RetentionConfig;
pub use runbooks::RunbooksConfig;
pub use severity::{AckTarget, Cadence, SeverityLevel, SeverityOverride, SeverityOverrides};
pub use slack::SlackConfig;
pub use web::{ProxyNet, WebConfig};

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub incidents: IncidentsConfig,
    /// Per-severity overrides of the ladder; see [`Config::ladder`].
    #[serde(default)]
    pub severity: SeverityOverrides,
    #[serde(default)]
    pub reminders: RemindersConfig,
    #[serde(default)]
    pub business_hours: BusinessHours,
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// The first-15-minutes checklist posted at declare. Absent: the default list; an empty
    /// list: no checklist.
    #[serde(default, deserialize_with = "checklist::at_most_30")]
    pub checklist: Option<Vec<ChecklistItem>>,
    #[serde(default)]
    pub postmortem: PostmortemConfig,
    #[serde(default)]
    pub runbooks: RunbooksConfig,
    #[serde(default)]
    pub discord: DiscordConfig,
    #[serde(default)]
    pub slack: SlackConfig,
    /// `[alerts]`: routing of incoming alerts (see `crate::alerts`).
    #[serde(default)]
    pub alerts: crate::alerts::AlertsConfig,
    /// `[retention]`: how long finished platform calls and deliveries are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// `[oncall]`: the on-call schedule files.
    #[serde(default)]
    pub oncall: OncallConfig,
    /// `[web]`: the read-only pages.
    #[serde(default)]
    pub web: WebConfig,
}

impl Config {
    /// Reads `path`; a missing file is an error only when `required`.
    pub fn load(path: &Path, required: bool) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Self::default());
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Self = toml::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// What the keys' own types cannot say; every value was checked as it was read.
    fn validate(&self) -> anyhow::Result<()> {
        self.business_hours.check()?;
        self.alerts.validate()?;
        self.discord.check()?;
        self.web.check()?;
        self.postmortem.check()
    }

    /// The `[discord.guilds."<id>"]` table of a Discord tenant, if it has one.
    fn discord_guild(&self, tenant: &Tenant) -> Option<&GuildConfig> {
        if tenant.platform != PlatformKind::Discord {
            return None;
        }
        self.discord.guilds.get(&tenant.workspace)
    }

    /// Where a tenant's incidents are announced.
    pub fn paging_channel(&self, tenant: &Tenant) -> ChannelRef {
        let name = match tenant.platform {
            PlatformKind::Discord => self
                .discord_guild(tenant)
                .and_then(|g| g.paging_channel.as_deref())
                .or(self.discord.paging_channel.as_deref())
                .unwrap_or(&self.incidents.paging_channel),
            PlatformKind::Slack => {
                let name = &self.incidents.paging_channel;
                return match &self.slack.paging_channel_id {
                    Some(id) => ChannelRef::new(id, name),
                    None => ChannelRef::new(name, name),
                };
            }
            PlatformKind::Console => &self.incidents.paging_channel,
        };
        ChannelRef::new(name, name)
    }

    /// How long after resolve a tenant's incident channels are archived, if they are.
    pub fn archive_after(&self, tenant: &Tenant) -> Option<Duration> {
        match tenant.platform {
            PlatformKind::Slack => self.slack.archive_after,
            PlatformKind::Discord => {
                self.discord_guild(tenant)
                    .and_then(|g| g.archive_after)
                    .unwrap_or(self.discord.archive_after)
                    .0
            }
            PlatformKind::Console => None,
        }
    }

    /// The category a Discord guild's archived incident channels move to, if configured.
    pub fn discord_archive_category(&self, guild: &str) -> Option<&str> {
        self.discord
            .guilds
            .get(guild)
            .and_then(|g| g.archive_category.as_deref())
            .or(self.discord.archive_category.as_deref())
    }

    /// The category a Discord guild's incident channels go under, if any.
    pub fn discord_category(&self, guild: &str) -> Option<&str> {
        self.discord
            .guilds
            .get(guild)
            .and_then(|g| g.category.as_deref())
            .or(self.discord.category.as_deref())
    }

    /// Who is paged, tier after tier, for an incident of this severity in a tenant.
    pub fn tiers(&self, tenant: &Tenant, severity: Severity) -> &[String] {
        let own = self
            .discord_guild(tenant)
            .and_then(|g| g.escalation.as_ref())
            .or(self.discord.escalation.as_ref());
        match (tenant.platform, own) {
            (PlatformKind::Discord, Some(own)) => own.tiers(severity),
            _ => self.escalation.tiers(severity),
        }
    }

    /// Every escalation table that is written, with where it is: `[escalation]`,
    /// `[discord.escalation]`, `[discord.guilds."<id>".escalation]`.
    pub fn escalation_tables(&self) -> Vec<(String, &EscalationConfig)> {
        let mut out = vec![("[escalation]".to_owned(), &self.escalation)];
        out.extend(
            self.discord
                .escalation
                .as_ref()
                .map(|e| ("[discord.escalation]".to_owned(), e)),
        );
        for (id, guild) in &self.discord.guilds {
            out.extend(
                guild
                    .escalation
                    .as_ref()
                    .map(|e| (format!("[discord.guilds.\"{id}\".escalation]"), e)),
            );
        }
        out
    }

    /// Who a SEV1 pages in a tenant, if anyone.
    pub fn sev1_mention(&self, tenant: &Tenant) -> Option<&str> {
        match tenant.platform {
            PlatformKind::Discord => self
                .discord_guild(tenant)
                .and_then(|g| g.sev1_mention.as_deref())
                .or(self.discord.sev1_mention.as_deref()),
            PlatformKind::Slack | PlatformKind::Console => None,
        }
    }

    /// The checklist posted at declare.
    pub fn checklist(&self) -> Vec<ChecklistItem> {
        self.checklist.clone().unwrap_or_else(default_checklist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_strictness() {
        let c = Config::parse(
            r#"
            [incidents]
            default_severity = "sev2"
            paging_channel = "oncall"
            [severity.sev3]
            update_every = "off"
            [severity.sev4]
            ack_within = "4h"
            "#,
        )
        .expect("valid config");
        assert_eq!(c.incidents.default_severity, Severity::Sev2);
        assert_eq!(&*c.incidents.channel_prefix, "inc");
        assert_eq!(c.ladder(Severity::Sev3).update_every, None);
        assert_eq!(
            c.ladder(Severity::Sev4).ack_within,
            AckTarget::Within(Duration::from_secs(4 * 3600))
        );
        let unknown = Config::parse("[incidents]\npaging = \"x\"").unwrap_err();
        assert!(
            format!("{unknown:#}").contains("unknown field `paging`"),
            "{unknown:#}"
        );
        assert!(Config::parse("[incidents]\ndefault_severity = \"sev9\"").is_err());
        assert!(Config::parse("[severity.sev1]\nupdate_every = \"soon\"").is_err());
        assert!(Config::parse("[incidents]\nchannel_prefix = \"INC!\"").is_err());
    }

    #[test]
    fn socket_connections_are_one_to_ten() {
        assert_eq!(Config::default().slack.socket_connections, 4);
        let two = Config::parse("[slack]\nsocket_connections = 2").expect("valid");
        assert_eq!(two.slack.socket_connections, 2);
        for bad in ["0", "11", "-1"] {
            let e = Config::parse(&format!("[slack]\nsocket_connections = {bad}")).unwrap_err();
            assert!(format!("{e:#}").contains("socket_connections"), "{e:#}");
        }
        let e = Config::parse("[slack]\nsocket_connections = 11").unwrap_err();
        assert!(format!("{e:#}").contains("1 to 10"), "{e:#}");
    }

    #[test]
    fn reminder_settings() {
        let c = Config::parse(
            r#"
            [reminders]
            business_hours_only = ["sev3", "sev4"]
            [business_hours]
            timezone = "Europe/Paris"
            start = "08:30"
            end = "17:00"
            days = ["mon", "tue"]
            [escalation]
            default = ["@primary", "@secondary"]
            sev1 = ["@primary", "@secondary", "@manager"]
            [[checklist]]
            text = "Page the database team"
            due = "5m"
            "#,
        )
        .expect("valid");
        assert_eq!(c.business_hours.timezone, chrono_tz::Europe::Paris);
        assert_eq!(c.escalation.tiers(Severity::Sev1).len(), 3);
        assert_eq!(
            c.escalation.tiers(Severity::Sev3),
            ["@primary", "@secondary"]
        );
        assert_eq!(c.checklist().len(), 1);
        assert_eq!(Config::default().checklist().len(), 6);
        let sev1_quiet =
            Config::parse("[reminders]\nbusiness_hours_only = [\"sev1\"]").unwrap_err();
        assert!(
            format!("{sev1_quiet:#}").contains("SEV1 reminders always fire"),
            "{sev1_quiet:#}"
        );
        assert!(Config::parse("[business_hours]\ntimezone = \"Mars/Olympus\"").is_err());
        assert!(Config::parse("[business_hours]\nstart = \"9am\"").is_err());
        assert!(Config::parse("[business_hours]\nstart = \"19:00\"").is_err());
        assert!(Config::parse("[[checklist]]\ntext = \"x\"\nticked_by = \"resolve\"").is_err());
    }

    #[test]
    fn errors_name_the_key() {
        for (bad, key) in [
            (
                "[incidents]\nchannel_prefix = \"INC!\"",
                "incidents.channel_prefix",
            ),
            (
                "[incidents]\npaging_channel = \" \"",
                "incidents.paging_channel",
            ),
            ("[discord]\nsev1_mention = \"@here\"", "sev1_mention = "),
            ("[discord]\ncategory = \"general\"", "category = "),
            (
                "[postmortem]\ndue_business_days = 0",
                "postmortem.due_business_days",
            ),
            ("[business_hours]\ndays = []", "business_hours.days"),
            ("[[checklist]]\ntext = \"\"", "checklist: item text"),
            ("[escalation]\nsev2 = [\"\"]", "escalation: "),
        ] {
            let e = format!("{:#}", Config::parse(bad).unwrap_err());
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../../../klaxon.example.toml");
        let example = Config::parse(text).expect("klaxon.example.toml parses");
        // The example shows the defaults: it must say exactly what no file says.
        assert_eq!(example.checklist(), default_checklist());
        for s in Severity::ALL {
            assert_eq!(example.ladder(s), Config::default().ladder(s));
        }
        let alerts = crate::alerts::AlertsConfig::default();
        assert_eq!(example.alerts.severities, alerts.severities);
        assert_eq!(example.alerts.default_severity, alerts.default_severity);
        assert!(example.alerts.routes.is_empty());
        assert_eq!(
            example.slack.socket_connections,
            Config::default().slack.socket_connections
        );
    }
}
