//! `klaxon.toml`: one typed, strict configuration, with the seeds' defaults.
//!
//! Unknown keys are errors. The file is optional; every setting has a default. Secrets (platform
//! tokens) never live here: they come from the environment, in the adapters' own issues.

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use klaxon_commands::{ChannelRef, Duration, PlatformKind, Severity, Tenant};
use serde::Deserialize;

mod discord;
pub use discord::GuildConfig;

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
    pub retention: crate::retention::RetentionConfig,
}

/// `[slack]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// The reaction that puts a message on its incident's timeline, by Slack's emoji name
    /// (without colons).
    #[serde(deserialize_with = "emoji_name")]
    pub capture_emoji: String,
    /// How long the paging-channel announcement's edit waits (0 to 10 000 ms) so that a burst
    /// of changes is one `chat.update`; each change within the window restarts it.
    #[serde(deserialize_with = "debounce_ms")]
    pub announcement_debounce_ms: u64,
    /// The paging channel's ID, found at start from `incidents.paging_channel` (a name or an
    /// ID); not read from the file.
    #[serde(skip)]
    pub paging_channel_id: Option<String>,
    /// How long after resolve an incident's channel is archived (`conversations.archive`),
    /// unless the incident is reopened meanwhile; absent: never.
    pub archive_after: Option<Duration>,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            capture_emoji: "pushpin".to_owned(),
            announcement_debounce_ms: 1500,
            paging_channel_id: None,
            archive_after: None,
        }
    }
}

fn debounce_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let ms = u64::deserialize(d)?;
    if ms <= 10_000 {
        Ok(ms)
    } else {
        Err(serde::de::Error::custom(
            "at most 10000 (ten seconds): a longer wait hides changes from the paging channel",
        ))
    }
}

fn emoji_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    let name = name.trim_matches(':').to_owned();
    let ok = (1..=100).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-'".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(serde::de::Error::custom(
            "an emoji name such as \"pushpin\" (lowercase letters, digits, _ + - ')",
        ))
    }
}

/// `[discord]`: where incidents live on Discord. Discord names channels by id, so the paging
/// channel and the category are ids (right-click → Copy Channel ID).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// How long the announcement's edit waits, so that a burst of changes is one edit.
    pub announcement_debounce_ms: u64,
    /// The paging channel's id; `incidents.paging_channel` is used when absent.
    pub paging_channel: Option<String>,
    /// The category incident channels are created under.
    pub category: Option<String>,
    /// Who a SEV1 pages when it is declared or raised: a role `<@&123>` or a user `<@123>`.
    pub sev1_mention: Option<String>,
    /// Escalation tiers on Discord (Discord mentions); `[escalation]` is used when absent.
    pub escalation: Option<EscalationConfig>,
    /// A reaction (an emoji such as "📌") that puts a message on its incident's timeline. Needs
    /// the privileged message content intent; without it, "Add to timeline" (right-click →
    /// Apps) does the same with no privileged intent.
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

/// The checks of one guild's keys (`at` is where they are: `discord` or a guild's table).
fn check_discord_guild(at: &str, g: &GuildConfig) -> anyhow::Result<()> {
    for (key, value) in [
        ("paging_channel", &g.paging_channel),
        ("category", &g.category),
    ] {
        if let Some(v) = value {
            anyhow::ensure!(
                is_snowflake(v),
                "{at}.{key} must be a channel id (digits; right-click the channel, Copy Channel ID)"
            );
        }
    }
    if let Some(m) = &g.sev1_mention {
        anyhow::ensure!(
            is_discord_mention(m),
            "{at}.sev1_mention must be a role <@&123> or a user <@123>; @everyone and @here are never allowed"
        );
    }
    if let Some(e) = &g.escalation {
        for tier in e.default.iter().chain(
            [&e.sev1, &e.sev2, &e.sev3, &e.sev4]
                .into_iter()
                .flatten()
                .flatten(),
        ) {
            anyhow::ensure!(
                is_discord_mention(tier),
                "{at}.escalation: {tier:?} is not a Discord mention (<@&role> or <@user>)"
            );
        }
    }
    Ok(())
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

/// `[runbooks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunbooksConfig {
    /// The folder of runbook files (`*.toml`), relative to the working directory.
    pub dir: std::path::PathBuf,
    /// Hosts runbook actions may call: `"host[:port]"` (public addresses only), or
    /// `{ host = "host[:port]", private = true, secrets_over_http = true }`. Empty: no action
    /// can send anything (fail closed).
    pub allowed_hosts: Vec<crate::runbooks::allow::AllowedHost>,
    /// How long a confirmation code stays valid.
    pub confirm_within: Duration,
}

impl Default for RunbooksConfig {
    fn default() -> Self {
        Self {
            dir: std::path::PathBuf::from("runbooks"),
            allowed_hosts: Vec::new(),
            confirm_within: Duration::from_secs(5 * 60),
        }
    }
}

/// `[postmortem]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostmortemConfig {
    /// The postmortem is due this many business days after resolution (reminders one business
    /// day before, and every business day once overdue, until `/inc postmortem done`).
    pub due_business_days: u32,
    /// A MiniJinja template to render drafts with, instead of the built-in one
    /// (`bot/templates/postmortem.md.j2` shows every variable). Relative to the working directory.
    pub template: Option<std::path::PathBuf>,
}

impl Default for PostmortemConfig {
    fn default() -> Self {
        Self {
            due_business_days: 5,
            template: None,
        }
    }
}

/// `[reminders]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemindersConfig {
    /// Severities whose reminders wait for business hours. SEV1 and SEV2 always fire, so only
    /// sev3 and sev4 are accepted.
    pub business_hours_only: Vec<Severity>,
}

/// `[business_hours]`: when a team works, in its own time zone. Used by quiet hours and by
/// "next business day" acknowledgement targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessHours {
    /// An IANA time zone, such as `Europe/Paris`.
    pub timezone: chrono_tz::Tz,
    /// `HH:MM`, local time.
    #[serde(deserialize_with = "de_time")]
    pub start: chrono::NaiveTime,
    #[serde(deserialize_with = "de_time")]
    pub end: chrono::NaiveTime,
    /// Working days: `mon` … `sun`.
    #[serde(deserialize_with = "de_days")]
    pub days: Vec<chrono::Weekday>,
}

impl Default for BusinessHours {
    fn default() -> Self {
        use chrono::Weekday::{Fri, Mon, Thu, Tue, Wed};
        Self {
            timezone: chrono_tz::UTC,
            start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default(),
            days: vec![Mon, Tue, Wed, Thu, Fri],
        }
    }
}

impl BusinessHours {
    fn local(&self, t: DateTime<Utc>) -> DateTime<chrono_tz::Tz> {
        t.with_timezone(&self.timezone)
    }

    /// The UTC instant of `time` on local `date`; in a DST gap, the first valid instant after.
    fn at(&self, date: chrono::NaiveDate, time: chrono::NaiveTime) -> Option<DateTime<Utc>> {
        use chrono::TimeZone as _;
        let naive = date.and_time(time);
        self.timezone
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                self.timezone
                    .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    }

    /// Whether `t` falls within business hours.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        use chrono::Datelike as _;
        let local = self.local(t);
        self.days.contains(&local.weekday())
            && local.time() >= self.start
            && local.time() < self.end
    }

    /// `t` if business hours are open then, else when they next open.
    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(t) {
            return t;
        }
        self.next_start(t, 0).unwrap_or(t)
    }

    /// The same local time `n` business days after `t` (n = 0: `t`). A `t` on a day off counts
    /// from the next business day.
    pub fn add_business_days(&self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        use chrono::Datelike as _;
        let local = self.local(t);
        let mut date = local.date_naive();
        let mut left = n;
        let mut guard = 0;
        while left > 0 && guard < 400 {
            date += chrono::Duration::days(1);
            guard += 1;
            if self.days.contains(&date.weekday()) {
                left -= 1;
            }
        }
        self.at(date, local.time()).unwrap_or(t)
    }

    /// The same local time on the business day before `t`'s day.
    pub fn previous_business_day(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        use chrono::Datelike as _;
        let local = self.local(t);
        let mut date = local.date_naive();
        for _ in 0..15 {
            date -= chrono::Duration::days(1);
            if self.days.contains(&date.weekday()) {
                break;
            }
        }
        self.at(date, local.time()).unwrap_or(t)
    }

    /// The start of business on `date` (a local date).
    pub fn start_of(&self, date: chrono::NaiveDate) -> DateTime<Utc> {
        self.at(date, self.start)
            .unwrap_or_else(|| date.and_time(self.start).and_utc())
    }

    /// The local date of `t`.
    pub fn date_of(&self, t: DateTime<Utc>) -> chrono::NaiveDate {
        self.local(t).date_naive()
    }

    /// The start of the first business day after the day of `t` (local dates).
    pub fn next_business_day(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.next_start(t, 1)
            .unwrap_or(t + chrono::Duration::days(1))
    }

    /// The first day start at or after `t`, looking from `from_day` days after `t`'s date.
    fn next_start(&self, t: DateTime<Utc>, from_day: i64) -> Option<DateTime<Utc>> {
        use chrono::Datelike as _;
        let today = self.local(t).date_naive();
        (from_day..from_day + 15).find_map(|d| {
            let date = today + chrono::Duration::days(d);
            if !self.days.contains(&date.weekday()) {
                return None;
            }
            self.at(date, self.start)
                .filter(|start| *start >= t || from_day > 0)
        })
    }
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::NaiveTime, D::Error> {
    let s = String::deserialize(d)?;
    chrono::NaiveTime::parse_from_str(&s, "%H:%M")
        .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a time like 09:00")))
}

fn de_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<chrono::Weekday>, D::Error> {
    let days = Vec::<String>::deserialize(d)?;
    days.iter()
        .map(|s| {
            s.parse::<chrono::Weekday>()
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a day like mon")))
        })
        .collect()
}

/// `[escalation]`: who is paged, tier after tier, while an incident is not acknowledged.
/// Each entry is a mention in the platform's own syntax, written by the operator: a Slack
/// `<@U123>` or `<!subteam^S123>`, a Discord `<@123>` or `<@&456>`, a console `@name`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Tiers for every severity without its own list.
    pub default: Vec<String>,
    pub sev1: Option<Vec<String>>,
    pub sev2: Option<Vec<String>>,
    pub sev3: Option<Vec<String>>,
    pub sev4: Option<Vec<String>>,
}

impl EscalationConfig {
    /// The tiers for a severity, first tier first.
    pub fn tiers(&self, severity: Severity) -> &[String] {
        let own = match severity {
            Severity::Sev1 => &self.sev1,
            Severity::Sev2 => &self.sev2,
            Severity::Sev3 => &self.sev3,
            Severity::Sev4 => &self.sev4,
        };
        own.as_deref().unwrap_or(&self.default)
    }
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    pub text: String,
    /// How long after declaration it should be done; an open item gets one nudge then.
    pub due: Option<Duration>,
    /// A command that ticks it by itself: `declare`, `ack`, `lead` or `update`.
    pub ticked_by: Option<Trigger>,
}

/// Events that tick checklist items by themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Declare,
    Ack,
    Lead,
    Update,
}

/// The default checklist, after the seeds' first-15-minutes list.
pub fn default_checklist() -> Vec<ChecklistItem> {
    let item = |text: &str, mins: u64, ticked_by: Option<Trigger>| ChecklistItem {
        text: text.to_owned(),
        due: Some(Duration::from_secs(mins * 60)),
        ticked_by,
    };
    vec![
        item("Acknowledge the page", 2, Some(Trigger::Ack)),
        item("Open the incident channel", 2, Some(Trigger::Declare)),
        item(
            "Classify severity; for SEV1/SEV2 name an incident commander",
            5,
            Some(Trigger::Lead),
        ),
        item(
            "Capture the alert payload, the last deploy and the top failing endpoints",
            8,
            None,
        ),
        item(
            "Choose a mitigation: roll back, fail over, or disable the broken dependency",
            12,
            None,
        ),
        item(
            "Post the chosen mitigation with /inc update",
            15,
            Some(Trigger::Update),
        ),
    ]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// Severity of `/inc declare <title>` when none is given.
    pub default_severity: Severity,
    /// Where incidents are announced (a channel name or id).
    pub paging_channel: String,
    /// Incident channels are named `<prefix>-YYYY-MM-DD-<slug>`.
    pub channel_prefix: String,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self {
            default_severity: Severity::Sev3,
            paging_channel: "incidents".to_owned(),
            channel_prefix: "inc".to_owned(),
        }
    }
}

/// `[severity.sev1]` … `[severity.sev4]`: each key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityOverrides {
    #[serde(default)]
    pub sev1: SeverityOverride,
    #[serde(default)]
    pub sev2: SeverityOverride,
    #[serde(default)]
    pub sev3: SeverityOverride,
    #[serde(default)]
    pub sev4: SeverityOverride,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityOverride {
    pub description: Option<String>,
    pub ack_within: Option<AckTarget>,
    pub update_every: Option<Cadence>,
}

/// How soon a page must be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum AckTarget {
    Within(Duration),
    /// By 09:00 UTC on the next working day (Monday to Friday).
    NextBusinessDay,
}

impl TryFrom<String> for AckTarget {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "next-business-day" {
            return Ok(Self::NextBusinessDay);
        }
        Duration::parse(&s)
            .map(Self::Within)
            .map_err(|_| format!("`{s}` is not a duration (like `15m`) or `next-business-day`"))
    }
}

impl std::fmt::Display for AckTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Within(d) => write!(f, "{d}"),
            Self::NextBusinessDay => f.write_str("next business day"),
        }
    }
}

/// How often status updates are due: a duration, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Cadence(pub Option<Duration>);

impl TryFrom<String> for Cadence {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "off" || s == "none" {
            return Ok(Self(None));
        }
        Duration::parse(&s)
            .map(|d| Self(Some(d)))
            .map_err(|_| format!("`{s}` is not a duration (like `15m`) or `off`"))
    }
}

/// One rung of the severity ladder, after defaults and overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityLevel {
    pub severity: Severity,
    pub description: String,
    pub ack_within: AckTarget,
    pub update_every: Option<Duration>,
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

    fn validate(&self) -> anyhow::Result<()> {
        let prefix = &self.incidents.channel_prefix;
        anyhow::ensure!(
            !prefix.is_empty()
                && prefix.len() <= 20
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "incidents.channel_prefix must be 1-20 characters of a-z, 0-9 and -"
        );
        anyhow::ensure!(
            !self.incidents.paging_channel.trim().is_empty(),
            "incidents.paging_channel must not be empty"
        );
        for s in &self.reminders.business_hours_only {
            anyhow::ensure!(
                matches!(s, Severity::Sev3 | Severity::Sev4),
                "reminders.business_hours_only: {s} reminders always fire; only sev3 and sev4 can wait for business hours"
            );
        }
        let bh = &self.business_hours;
        anyhow::ensure!(
            bh.start < bh.end,
            "business_hours.start must be before business_hours.end"
        );
        anyhow::ensure!(
            !bh.days.is_empty(),
            "business_hours.days must name at least one day"
        );
        self.alerts.validate()?;
        let e = &self.escalation;
        for tier in e.default.iter().chain(
            [&e.sev1, &e.sev2, &e.sev3, &e.sev4]
                .into_iter()
                .flatten()
                .flatten(),
        ) {
            anyhow::ensure!(
                !tier.trim().is_empty() && tier.len() <= 100 && !tier.chars().any(char::is_control),
                "escalation: {tier:?} is not a mention"
            );
        }
        let d = &self.discord;
        anyhow::ensure!(
            d.announcement_debounce_ms <= 10_000,
            "discord.announcement_debounce_ms must be at most 10000"
        );
        if let Some(e) = &d.capture_emoji {
            anyhow::ensure!(
                !e.trim().is_empty() && e.chars().count() <= 8 && !e.is_ascii(),
                "discord.capture_emoji must be an emoji such as \"📌\""
            );
        }
        let flat = GuildConfig {
            paging_channel: d.paging_channel.clone(),
            category: d.category.clone(),
            sev1_mention: d.sev1_mention.clone(),
            escalation: d.escalation.clone(),
        };
        check_discord_guild("discord", &flat)?;
        for (id, guild) in &d.guilds {
            anyhow::ensure!(
                is_snowflake(id),
                "discord.guilds.{id:?}: the key must be a guild id (right-click the server, Copy Server ID)"
            );
            check_discord_guild(&format!("discord.guilds.\"{id}\""), guild)?;
            anyhow::ensure!(
                d.guilds.len() == 1 || guild.paging_channel.is_some(),
                "discord.guilds.\"{id}\".paging_channel: with several guilds, each needs its own paging channel"
            );
        }
        anyhow::ensure!(
            (1..=60).contains(&self.postmortem.due_business_days),
            "postmortem.due_business_days must be 1 to 60"
        );
        if let Some(path) = &self.postmortem.template {
            anyhow::ensure!(
                path.is_file(),
                "postmortem.template: no file at {}",
                path.display()
            );
        }
        if let Some(items) = &self.checklist {
            anyhow::ensure!(items.len() <= 30, "checklist: at most 30 items");
            for item in items {
                anyhow::ensure!(
                    !item.text.trim().is_empty() && item.text.chars().count() <= 200,
                    "checklist: item text must be 1-200 characters"
                );
            }
        }
        Ok(())
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
            PlatformKind::Discord | PlatformKind::Console => None,
        }
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

    /// The severity ladder: the seeds' defaults (acknowledge within SEV1 5 min, SEV2 15 min,
    /// SEV3 1 h, SEV4 next business day; updates every 15 min, 30 min, 1 h, none) with this
    /// file's overrides.
    pub fn ladder(&self, severity: Severity) -> SeverityLevel {
        let (desc, ack, every, o) = match severity {
            Severity::Sev1 => (
                "Customer-facing outage, data loss or an active security breach",
                AckTarget::Within(Duration::from_secs(5 * 60)),
                Some(15 * 60),
                &self.severity.sev1,
            ),
            Severity::Sev2 => (
                "Significant degradation, or one tenant badly affected",
                AckTarget::Within(Duration::from_secs(15 * 60)),
                Some(30 * 60),
                &self.severity.sev2,
            ),
            Severity::Sev3 => (
                "Recoverable degradation with a workaround, or internal only",
                AckTarget::Within(Duration::from_secs(60 * 60)),
                Some(60 * 60),
                &self.severity.sev3,
            ),
            Severity::Sev4 => (
                "Minor or cosmetic; no customer impact",
                AckTarget::NextBusinessDay,
                None,
                &self.severity.sev4,
            ),
        };
        SeverityLevel {
            severity,
            description: o.description.clone().unwrap_or_else(|| desc.to_owned()),
            ack_within: o.ack_within.unwrap_or(ack),
            update_every: o
                .update_every
                .map_or(every.map(Duration::from_secs), |c| c.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seeds() {
        let c = Config::default();
        assert_eq!(c.incidents.default_severity, Severity::Sev3);
        assert_eq!(c.incidents.paging_channel, "incidents");
        let s1 = c.ladder(Severity::Sev1);
        assert_eq!(s1.ack_within, AckTarget::Within(Duration::from_secs(300)));
        assert_eq!(s1.update_every, Some(Duration::from_secs(900)));
        assert_eq!(
            c.ladder(Severity::Sev2).update_every,
            Some(Duration::from_secs(1800))
        );
        let s4 = c.ladder(Severity::Sev4);
        assert_eq!(s4.ack_within, AckTarget::NextBusinessDay);
        assert_eq!(s4.update_every, None);
    }

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
        assert_eq!(c.incidents.channel_prefix, "inc");
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

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn business_hours_in_a_time_zone() {
        let c = Config::parse("[business_hours]\ntimezone = \"Europe/Paris\"").expect("valid");
        let bh = &c.business_hours;
        // Monday 2026-11-23: Paris is UTC+1, so hours are 08:00-17:00 UTC.
        assert!(!bh.is_open(utc("2026-11-23T07:59:00Z")));
        assert!(bh.is_open(utc("2026-11-23T08:00:00Z")));
        assert!(!bh.is_open(utc("2026-11-23T17:00:00Z")));
        assert_eq!(
            bh.next_open(utc("2026-11-23T05:00:00Z")),
            utc("2026-11-23T08:00:00Z")
        );
        assert_eq!(
            bh.next_open(utc("2026-11-23T10:00:00Z")),
            utc("2026-11-23T10:00:00Z")
        );
        // Friday evening → Monday morning.
        assert_eq!(
            bh.next_open(utc("2026-11-27T18:00:00Z")),
            utc("2026-11-30T08:00:00Z")
        );
        assert_eq!(
            bh.next_business_day(utc("2026-11-27T09:00:00Z")),
            utc("2026-11-30T08:00:00Z")
        );
        assert_eq!(
            bh.next_business_day(utc("2026-11-23T03:00:00Z")),
            utc("2026-11-24T08:00:00Z")
        );
        // Five business days after Friday 10:00 UTC is the next Friday; after Wednesday, Wednesday.
        assert_eq!(
            bh.add_business_days(utc("2026-11-27T10:00:00Z"), 5),
            utc("2026-12-04T10:00:00Z")
        );
        assert_eq!(
            bh.add_business_days(utc("2026-11-25T10:00:00Z"), 5),
            utc("2026-12-02T10:00:00Z")
        );
        assert_eq!(
            bh.previous_business_day(utc("2026-11-30T10:00:00Z")),
            utc("2026-11-27T10:00:00Z")
        );
        // Summer time: 2026-07-06 is a Monday, Paris is UTC+2.
        assert_eq!(
            bh.next_open(utc("2026-07-06T00:00:00Z")),
            utc("2026-07-06T07:00:00Z")
        );
    }

    #[test]
    fn example_file_is_valid() {
        let text = include_str!("../../klaxon.example.toml");
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
    }
}
