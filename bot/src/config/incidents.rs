//! `[incidents]`: the defaults of a declare and where incidents are announced.

use klaxon_commands::Severity;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// Severity of `/inc declare <title>` when none is given.
    pub default_severity: Severity,
    /// Where incidents are announced (a channel name or id).
    #[serde(deserialize_with = "paging_channel")]
    pub paging_channel: String,
    /// Incident channels are named `<prefix>-YYYY-MM-DD-<slug>`.
    pub channel_prefix: ChannelPrefix,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self {
            default_severity: Severity::Sev3,
            paging_channel: "incidents".to_owned(),
            channel_prefix: ChannelPrefix("inc".to_owned()),
        }
    }
}

fn paging_channel<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    if name.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "incidents.paging_channel must not be empty",
        ));
    }
    Ok(name)
}

/// The prefix of incident channel names: 1 to 20 characters of a-z, 0-9 and -.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ChannelPrefix(String);

impl TryFrom<String> for ChannelPrefix {
    type Error = &'static str;
    fn try_from(prefix: String) -> Result<Self, Self::Error> {
        let ok = !prefix.is_empty()
            && prefix.len() <= 20
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(prefix))
        } else {
            Err("incidents.channel_prefix must be 1-20 characters of a-z, 0-9 and -")
        }
    }
}

impl std::ops::Deref for ChannelPrefix {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChannelPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
