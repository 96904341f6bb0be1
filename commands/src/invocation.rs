//! `Invocation`: who asked for what, where, on which platform and tenant.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Command, UserError};

/// The chat platforms Klaxon speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    Console,
    Slack,
    Discord,
}

impl PlatformKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Slack => "slack",
            Self::Discord => "discord",
        }
    }

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "console" => Some(Self::Console),
            "slack" => Some(Self::Slack),
            "discord" => Some(Self::Discord),
            _ => None,
        }
    }

    /// The longest channel name the platform accepts.
    pub fn channel_name_limit(self) -> usize {
        match self {
            Self::Slack | Self::Console => 80,
            Self::Discord => 100,
        }
    }

    /// Whether an archived channel is read-only and only a person can bring it back. On Slack
    /// an archived channel takes no posts or commands, and no bot token can unarchive one
    /// (api.slack.com/methods/conversations.unarchive: "Bot tokens (xoxb-...) cannot currently
    /// be used to unarchive conversations"). Discord's archive is a category: the channel
    /// still works there, and Klaxon moves it back.
    pub fn archive_is_read_only(self) -> bool {
        matches!(self, Self::Slack)
    }

    /// Parses a mention as typed on this platform into a user reference:
    /// Slack `<@U123>` or `<@U123|name>`, Discord `<@123>` or `<@!123>`, console `@name`.
    pub fn parse_mention(self, word: &str) -> Result<UserRef, UserError> {
        let parsed = match self {
            Self::Slack => word
                .strip_prefix("<@")
                .and_then(|w| w.strip_suffix('>'))
                .and_then(|inner| {
                    let (id, name) = match inner.split_once('|') {
                        Some((id, name)) => (id, Some(name)),
                        None => (inner, None),
                    };
                    let valid = id.len() >= 2
                        && id.starts_with(['U', 'W'])
                        && id.chars().all(|c| c.is_ascii_alphanumeric());
                    valid.then(|| UserRef {
                        id: id.to_owned(),
                        name: name.filter(|n| !n.is_empty()).map(str::to_owned),
                    })
                }),
            Self::Discord => word
                .strip_prefix("<@")
                .and_then(|w| w.strip_suffix('>'))
                .map(|w| w.strip_prefix('!').unwrap_or(w))
                .filter(|id| {
                    !id.is_empty() && id.len() <= 20 && id.chars().all(|c| c.is_ascii_digit())
                })
                .map(UserRef::id),
            Self::Console => word
                .strip_prefix('@')
                .filter(|n| {
                    !n.is_empty()
                        && n.len() <= 40
                        && n.chars()
                            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
                })
                .map(|n| UserRef::named(n, n)),
        };
        parsed.ok_or_else(|| {
            let example = match self {
                Self::Console => "@alice",
                Self::Slack | Self::Discord => "@someone (pick them from the list)",
            };
            UserError::new(format!(
                "`{}` is not a mention. Name a person as {example}.",
                crate::values::shorten(word, 30)
            ))
        })
    }
}

impl fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant is one workspace or guild on one platform. Every stored key carries it, so two
/// workspaces never see each other's incidents.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Tenant {
    pub platform: PlatformKind,
    /// Slack team id, Discord guild id, or `local` for the console.
    pub workspace: String,
}

impl Tenant {
    pub fn new(platform: PlatformKind, workspace: impl Into<String>) -> Self {
        Self {
            platform,
            workspace: workspace.into(),
        }
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.workspace)
    }
}

/// A platform-neutral reference to a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserRef {
    /// The platform's stable id (Slack `U123`, Discord snowflake, console name).
    pub id: String,
    /// A display name when the platform gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl UserRef {
    pub fn id(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: None,
        }
    }

    pub fn named(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: Some(name.into()),
        }
    }

    /// The best human label: the display name, else the id.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// A channel on a platform. `id` is `None` only for a channel Klaxon has planned but the
/// platform has not created yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
}

impl ChannelRef {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            name: name.into(),
        }
    }

    pub fn planned(name: impl Into<String>) -> Self {
        Self {
            id: None,
            name: name.into(),
        }
    }
}

/// A posted message, as the platform identifies it (Slack `ts`, Discord message id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MessageRef(pub String);

/// What the user asked: free text after `/inc`, or a command an adapter already built from
/// typed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Text(String),
    Command(Command),
    /// A click on an alert announcement's "Declare incident" button
    /// ([`crate::ButtonAction::Declare`]): declare with that alert's title and severity.
    DeclareAlert {
        alert: i64,
    },
}

/// One request from a person, as every adapter hands it to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub tenant: Tenant,
    /// The channel the command was typed in.
    pub channel: ChannelRef,
    pub user: UserRef,
    pub input: Input,
    /// The incident acted on, by number, when the platform says so (a button under an
    /// announcement in the paging channel); otherwise the incident whose channel this is.
    pub incident: Option<i64>,
    /// The platform's id for this delivery (Slack `event_id`/`trigger_id`, Discord interaction
    /// id). A second delivery with the same id gets the first one's reply and changes nothing.
    pub delivery_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_per_platform() {
        let ok = |p: PlatformKind, w: &str| p.parse_mention(w).ok();
        assert_eq!(
            ok(PlatformKind::Slack, "<@U123>"),
            Some(UserRef::id("U123"))
        );
        assert_eq!(
            ok(PlatformKind::Slack, "<@U123|alice>"),
            Some(UserRef::named("U123", "alice"))
        );
        assert_eq!(ok(PlatformKind::Slack, "<@W9>"), Some(UserRef::id("W9")));
        assert_eq!(ok(PlatformKind::Slack, "<!channel>"), None);
        assert_eq!(ok(PlatformKind::Slack, "<@C123>"), None);
        assert_eq!(ok(PlatformKind::Slack, "@alice"), None);
        assert_eq!(
            ok(PlatformKind::Discord, "<@123>"),
            Some(UserRef::id("123"))
        );
        assert_eq!(
            ok(PlatformKind::Discord, "<@!123>"),
            Some(UserRef::id("123"))
        );
        assert_eq!(ok(PlatformKind::Discord, "<@&123>"), None);
        assert_eq!(ok(PlatformKind::Discord, "<@abc>"), None);
        assert_eq!(
            ok(PlatformKind::Console, "@alice"),
            Some(UserRef::named("alice", "alice"))
        );
        assert_eq!(ok(PlatformKind::Console, "alice"), None);
        assert_eq!(ok(PlatformKind::Console, "@"), None);
        assert_eq!(ok(PlatformKind::Console, "@everyone!"), None);
    }
}
