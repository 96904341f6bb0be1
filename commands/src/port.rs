//! The two ports between the engine and an adapter: `Handler` (platform → engine) and
//! `ChatApi` (engine → platform).

use async_trait::async_trait;

use crate::{ChannelRef, Invocation, Message, MessageRef, Reply, Rich, UserRef};

/// What the engine does with an invocation. Adapters call it and send the reply back; the reply
/// comes only after the command's effects are committed.
#[async_trait]
pub trait Handler: Send + Sync {
    async fn handle(&self, invocation: Invocation) -> Reply;
}

/// A channel Klaxon asks a platform to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// The name Klaxon chose; when the platform says it is taken, the adapter tries
    /// [`crate::naming::with_suffix`] `-2`, `-3`, … in turn.
    pub name: String,
    pub private: bool,
    pub topic: Rich,
    /// People to add at once (the declarer, the IC).
    pub invite: Vec<UserRef>,
}

/// How a platform call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// Worth retrying (429, 5xx, network): after `retry_after` when the platform said so.
    Transient {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    /// Retrying cannot help (missing scope, unknown channel).
    Permanent(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transient { reason, .. } => write!(f, "transient: {reason}"),
            Self::Permanent(reason) => write!(f, "permanent: {reason}"),
        }
    }
}

/// The platform calls the engine's outbox makes. Each adapter implements it over its SDK.
#[async_trait]
pub trait ChatApi: Send + Sync {
    /// Creates the channel (suffixing the name on collisions) and returns it with its real name.
    async fn create_channel(&self, channel: &NewChannel) -> Result<ChannelRef, ApiError>;
    async fn invite(&self, channel: &ChannelRef, users: &[UserRef]) -> Result<(), ApiError>;
    async fn set_topic(&self, channel: &ChannelRef, topic: &Rich) -> Result<(), ApiError>;
    async fn post(&self, channel: &ChannelRef, message: &Message) -> Result<MessageRef, ApiError>;
    async fn edit(
        &self,
        channel: &ChannelRef,
        target: &MessageRef,
        message: &Message,
    ) -> Result<(), ApiError>;
    async fn pin(&self, channel: &ChannelRef, target: &MessageRef) -> Result<(), ApiError>;
}
