//! `[escalation]`: who is paged, tier after tier.

use klaxon_commands::{ScheduleRef, Severity};
use serde::Deserialize;

/// `[escalation]`: who is paged, tier after tier, while an incident is not acknowledged.
/// Each entry is a mention in the platform's own syntax, written by the operator: a Slack
/// `<@U123>` or `<!subteam^S123>`, a Discord `<@123>` or `<@&456>`, a console `@name`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// Tiers for every severity without its own list.
    #[serde(deserialize_with = "tiers")]
    pub default: Vec<String>,
    #[serde(deserialize_with = "own_tiers")]
    pub sev1: Option<Vec<String>>,
    #[serde(deserialize_with = "own_tiers")]
    pub sev2: Option<Vec<String>>,
    #[serde(deserialize_with = "own_tiers")]
    pub sev3: Option<Vec<String>>,
    #[serde(deserialize_with = "own_tiers")]
    pub sev4: Option<Vec<String>>,
}

/// A list of tiers, each a mention (not blank, at most 100 bytes, no control characters) or a
/// schedule layer (`schedule:payments/primary`, checked against the loaded schedules at start).
fn tiers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let tiers = Vec::<String>::deserialize(d)?;
    for tier in &tiers {
        if tier.trim().is_empty() || tier.len() > 100 || tier.chars().any(char::is_control) {
            return Err(serde::de::Error::custom(format!(
                "escalation: {tier:?} is not a mention"
            )));
        }
        Tier::parse(tier).map_err(|why| serde::de::Error::custom(format!("escalation: {why}")))?;
    }
    Ok(tiers)
}

fn own_tiers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    tiers(d).map(Some)
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

    /// Each list that is written, with its key: `default`, `sev1` …
    pub fn lists(&self) -> impl Iterator<Item = (&'static str, &[String])> {
        [
            ("default", Some(&self.default)),
            ("sev1", self.sev1.as_ref()),
            ("sev2", self.sev2.as_ref()),
            ("sev3", self.sev3.as_ref()),
            ("sev4", self.sev4.as_ref()),
        ]
        .into_iter()
        .filter_map(|(key, list)| list.map(|l| (key, l.as_slice())))
    }

    /// Every tier of every severity.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.default.iter().chain(
            [&self.sev1, &self.sev2, &self.sev3, &self.sev4]
                .into_iter()
                .flatten()
                .flatten(),
        )
    }
}

/// How an escalation tier names a schedule layer: `schedule:payments/primary`.
pub const TIER_PREFIX: &str = "schedule:";

/// An escalation tier as the operator wrote it in `[escalation]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tier<'a> {
    /// A mention in the platform's own syntax, paged as written.
    Mention(&'a str),
    /// Whoever is on call for a schedule's layer (its first layer when none is named) at the
    /// time of the page.
    Layer(ScheduleRef),
}

impl<'a> Tier<'a> {
    /// Reads a tier; `schedule:` must be followed by `name` or `name/layer`.
    pub fn parse(raw: &'a str) -> Result<Self, String> {
        match raw.strip_prefix(TIER_PREFIX) {
            None => Ok(Self::Mention(raw)),
            Some(rest) => ScheduleRef::parse(rest).map(Self::Layer).map_err(|_| {
                format!("{raw:?} must name a schedule layer like \"schedule:payments/primary\"")
            }),
        }
    }
}
