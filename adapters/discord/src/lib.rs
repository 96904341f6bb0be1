//! The Discord adapter: Klaxon's platform-neutral messages as Discord markdown, embeds and
//! buttons; its platform calls as REST calls through serenity; `/inc` registered from the
//! grammar's specs; interactions from the gateway or the signed HTTP endpoint as
//! `Invocation`s.
//!
//! Every message, response and edit carries explicit allowed mentions, and user text is
//! escaped for Discord markdown, so a title such as `@everyone` pings nobody.

pub mod api;
pub mod bucket;
pub mod custom_id;
mod direct;
pub mod doctor;
pub mod endpoint;
pub mod gateway;
pub mod interaction;
pub mod markdown;
mod once;
pub mod places;
pub mod register;
mod rest;

#[cfg(test)]
mod properties;

pub use api::{ChannelSettings, DiscordApi, RestSettings};
pub use endpoint::{Answer, Endpoint};
pub use gateway::{Gateway, Registration};
pub use interaction::Responder;
