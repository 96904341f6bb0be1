//! The Slack adapter: Klaxon's platform-neutral messages as Slack mrkdwn and Block Kit, its
//! platform calls as Web API methods through slack-morphism, and its whole inbound edge: the
//! signed HTTP endpoints ([`Endpoint`], [`endpoint::router`]) and Socket Mode, which share one
//! [`Edge`] and build `Invocation`s the same way.
//!
//! User text is escaped (`&`, `<`, `>`) and never sent with `link_names` or `parse=full`, so a
//! title such as `<!channel>` shows as text and pings nobody.

pub mod action_id;
pub mod api;
pub mod bucket;
pub mod command;
pub mod connector;
mod direct;
pub mod edge;
pub mod endpoint;
pub mod events;
pub mod interaction;
pub mod modal;
pub mod mrkdwn;
mod once;
pub mod socket;
pub mod workspace;

#[cfg(test)]
mod properties;

pub use api::SlackApi;
pub use command::{SlashCommand, Verified, verify};
pub use edge::Edge;
pub use endpoint::{Answer, Endpoint, Route};
pub use socket::SocketMode;
