//! `[retention]`: how long finished platform calls and deliveries are kept.

use serde::Deserialize;

/// `[retention]`: how long records that only matter for a while are kept, in days; `0` keeps
/// them forever.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Finished platform calls (done, failed, superseded), counted from when they were queued.
    pub outbox_days: u32,
    /// Answered deliveries, which make a platform's retry of a command have no second effect,
    /// counted from when they arrived.
    pub deliveries_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            outbox_days: 30,
            deliveries_days: 30,
        }
    }
}
