//! `[slack]`: Slack's own settings.

use klaxon_commands::Duration;
use serde::Deserialize;

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
    /// How many Socket Mode connections this process holds (1 to 10). Each answers its
    /// commands one after another; Slack allows an app 10 across every replica.
    #[serde(deserialize_with = "socket_connections")]
    pub socket_connections: u32,
}

impl Default for SlackConfig {
    fn default() -> Self {
        Self {
            capture_emoji: "pushpin".to_owned(),
            announcement_debounce_ms: 1500,
            paging_channel_id: None,
            archive_after: None,
            socket_connections: 4,
        }
    }
}

pub(super) fn debounce_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let ms = u64::deserialize(d)?;
    if ms <= 10_000 {
        Ok(ms)
    } else {
        Err(serde::de::Error::custom(
            "at most 10000 (ten seconds): a longer wait hides changes from the paging channel",
        ))
    }
}

fn socket_connections<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = u32::deserialize(d)?;
    if (1..=10).contains(&n) {
        Ok(n)
    } else {
        Err(serde::de::Error::custom(
            "1 to 10: Slack allows an app 10 Socket Mode connections, across every replica",
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
