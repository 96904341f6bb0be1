//! `[oncall]`: where the on-call schedule files live, and where shift handoffs are posted.

use klaxon_commands::{Duration, PlatformKind, Tenant};
use serde::Deserialize;

/// `[oncall]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OncallConfig {
    /// The folder of schedule files (`*.toml`), relative to the working directory.
    pub dir: std::path::PathBuf,
    /// `[oncall.handoffs]`: posts at each handoff and before each shift.
    pub handoffs: HandoffConfig,
}

impl Default for OncallConfig {
    fn default() -> Self {
        Self {
            dir: "oncall".into(),
            handoffs: HandoffConfig::default(),
        }
    }
}

/// `[oncall.handoffs]`: at each handoff of a layer, a post naming the outgoing and incoming
/// people with the open incidents each is in; before each shift, a reminder to its person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffConfig {
    /// The channels the posts go to, like alert routes' (`{ platform, workspace, channel }`);
    /// none: no handoff posts or reminders. Incidents are listed from each one's workspace.
    pub targets: Vec<crate::alerts::Target>,
    /// The workspaces where the people themselves get the posts by direct message
    /// (`{ platform, workspace }`): the incoming and the outgoing person each their own part of
    /// a handoff, and the reminded person the reminder. Incidents are listed from that
    /// workspace.
    pub direct: Vec<DirectTarget>,
    /// Whether each shift's person is reminded before it starts.
    pub remind: bool,
    /// How long before a shift its person is reminded.
    pub remind_before: Duration,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            direct: Vec::new(),
            remind: true,
            remind_before: Duration::from_secs(3600),
        }
    }
}

impl HandoffConfig {
    /// Whether any handoff post or reminder goes anywhere (a channel or a direct message).
    pub fn enabled(&self) -> bool {
        !self.targets.is_empty() || !self.direct.is_empty()
    }
}

/// A workspace whose people get their handoffs and reminders by direct message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectTarget {
    /// `slack`, `discord` or `console`.
    pub platform: PlatformKind,
    /// The Slack team id (`T…`) or Discord guild id; the schedules' participants must be that
    /// platform's user ids.
    pub workspace: String,
}

impl DirectTarget {
    pub fn tenant(&self) -> Tenant {
        Tenant::new(self.platform, self.workspace.clone())
    }
}
