//! `[severity.sevN]`: the severity ladder, the seeds' defaults with the file's overrides.

use klaxon_commands::{Duration, Severity};
use serde::Deserialize;

use super::Config;

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
}
