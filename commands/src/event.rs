//! Platform events that are not commands: something happened to a message in an incident
//! channel (marked for the timeline, unmarked, edited, deleted). Adapters build them; the
//! engine records them through [`crate::Handler::event`].

use chrono::{DateTime, Utc};

use crate::{MessageRef, Tenant, UserRef};

/// One event about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEvent {
    pub tenant: Tenant,
    /// The channel the message is in.
    pub channel_id: String,
    /// The message (Slack: its `ts`).
    pub message: MessageRef,
    /// The platform's id for the event: a redelivery carries the same one and has no effect.
    pub event_id: Option<String>,
    pub kind: EventKind,
}

/// What happened to the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// Someone marked the message for the timeline (Slack: the 📌 reaction).
    Marked { by: UserRef, message: Captured },
    /// Someone took their mark off.
    Unmarked { by: UserRef },
    /// The message was edited; `text` is what it says now.
    Edited { text: String, at: DateTime<Utc> },
    /// The message was deleted.
    Deleted { at: DateTime<Utc> },
}

/// A message as the platform holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub author: UserRef,
    pub text: String,
    /// When it was posted (UTC).
    pub at: DateTime<Utc>,
    /// A link to it, where the platform gives one.
    pub permalink: Option<String>,
}
