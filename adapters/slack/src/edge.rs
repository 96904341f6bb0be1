//! What both of Slack's transports, signed HTTP (`endpoint.rs`) and Socket Mode
//! (`socket.rs`), need from the bot to answer a request.

use std::sync::Arc;

use klaxon_commands::Handler;

/// What the Slack edge needs from the bot, for both transports (HTTP and Socket Mode).
#[derive(Clone)]
pub struct Edge {
    pub handler: Arc<dyn Handler>,
    /// The Web API with the bot token, to open forms (`views.open`) from commands and clicks
    /// and to read messages marked for the timeline.
    pub api: crate::SlackApi,
    /// The reaction that captures a message (`[slack] capture_emoji`).
    pub capture_emoji: String,
    /// What the declare form's on-call field offers: the bot's schedules as `schedule/layer`,
    /// each schedule's first layer first (none: no field).
    pub oncall: Vec<String>,
}
