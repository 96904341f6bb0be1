//! `[oncall]`: where the on-call schedule files live, and where shift handoffs are posted.

use klaxon_commands::Duration;
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
    /// Whether each shift's person is reminded before it starts.
    pub remind: bool,
    /// How long before a shift its person is reminded.
    pub remind_before: Duration,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        Self {
            targets: Vec::new(),
            remind: true,
            remind_before: Duration::from_secs(3600),
        }
    }
}
