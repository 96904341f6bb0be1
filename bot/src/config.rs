//! `klaxon.toml`: one typed, strict configuration, with the seeds' defaults.
//!
//! Unknown keys are errors. The file is optional; every setting has a default. Secrets (platform
//! tokens) never live here: they come from the environment, in the adapters' own issues.

use std::path::Path;

use anyhow::Context as _;
use klaxon_commands::{Duration, Severity};
use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub incidents: IncidentsConfig,
    /// Per-severity overrides of the ladder; see [`Config::ladder`].
    #[serde(default)]
    pub severity: SeverityOverrides,
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
        Ok(())
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
    fn example_file_is_valid() {
        let text = include_str!("../../klaxon.example.toml");
        Config::parse(text).expect("klaxon.example.toml parses");
    }
}
