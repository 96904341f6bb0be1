//! `[oncall]`: where the on-call schedule files live.

use serde::Deserialize;

/// `[oncall]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OncallConfig {
    /// The folder of schedule files (`*.toml`), relative to the working directory.
    pub dir: std::path::PathBuf,
}

impl Default for OncallConfig {
    fn default() -> Self {
        Self {
            dir: "oncall".into(),
        }
    }
}
