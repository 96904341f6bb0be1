//! `[runbooks]`: where runbook files live and what their actions may call.

use klaxon_commands::Duration;
use serde::Deserialize;

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
