//! `Op`: one platform call as the outbox stores it, decoded once when the row is read.

use klaxon_commands::{ChannelRef, Message, Rich, UserRef};
use serde::{Deserialize, Serialize};

use crate::store::posts::PostKind;

/// One platform call, as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Create the incident's channel under its planned name.
    CreateChannel {
        private: bool,
        topic: Rich,
        invite: Vec<UserRef>,
    },
    /// Add people to the incident channel.
    Invite { users: Vec<UserRef> },
    /// Set the incident channel's topic.
    SetTopic { topic: Rich },
    /// Post a message; a tracked post is remembered so later changes edit it.
    Post {
        to: Target,
        message: Message,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        track: Option<PostKind>,
        /// The timeline entry this post shows, which gets the message's reference.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeline_entry: Option<i64>,
    },
    /// Pin a tracked post.
    Pin { kind: PostKind },
    /// Replace the content of a tracked post.
    Edit { kind: PostKind, message: Message },
    /// Share a stored postmortem draft in the incident channel, as a file.
    UploadPostmortem { version: i64, comment: Message },
    /// Announce an alert in a paging channel; the alert row remembers the message.
    PostAlert {
        alert: i64,
        channel: ChannelRef,
        message: Message,
    },
    /// Replace an alert's announcement (fired again, resolved, declared).
    EditAlert { alert: i64, message: Message },
    /// Archive the resolved incident's channel (skipped if it was reopened meanwhile).
    Archive,
    /// Bring a reopened incident's archived channel back (skipped if it was not archived).
    Unarchive,
    /// A stored call that does not decode (written by a newer Klaxon, or damaged): never
    /// stored as such, only read. It takes its place in its incident's lane and fails there,
    /// recorded like any other failed call.
    #[serde(skip)]
    Unreadable { reason: String },
}

/// Where a post goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The incident's own channel.
    Incident,
    /// A fixed channel, such as the paging channel.
    Channel(ChannelRef),
    /// A direct message to a person (a shift handoff), whose channel the dispatcher opens when
    /// the post is made (`ChatApi::open_direct`).
    Person(UserRef),
}

/// How the stored JSON of a post to a fixed channel or a person begins (serde writes the tag,
/// then `to`; `"incident"` is a bare string): the outbox read finds those posts, lanes that span
/// incidents, without decoding each row.
pub(super) const SHARED_POST_PREFIX: &str = r#"{"op":"post","to":{""#;

impl Op {
    /// Calls with the same key replace each other while pending: only the newest edit of a
    /// post, topic or alert announcement is made, so a burst of changes is one edit.
    pub fn coalesce_key(&self) -> Option<String> {
        match self {
            Self::SetTopic { .. } => Some("topic".to_owned()),
            Self::Edit {
                kind: PostKind::Announcement,
                ..
            } => Some("edit:announcement".to_owned()),
            Self::Edit {
                kind: PostKind::Summary,
                ..
            } => Some("edit:summary".to_owned()),
            Self::EditAlert { alert, .. } => Some(crate::store::alerts::edit_key(*alert)),
            _ => None,
        }
    }

    /// The call's kind (`post`, `edit`, `create_channel` …), for metrics and logs.
    pub fn method(&self) -> &'static str {
        match self {
            Self::CreateChannel { .. } => "create_channel",
            Self::Invite { .. } => "invite",
            Self::SetTopic { .. } => "set_topic",
            Self::Post { .. } => "post",
            Self::Pin { .. } => "pin",
            Self::Edit { .. } => "edit",
            Self::UploadPostmortem { .. } => "upload_postmortem",
            Self::PostAlert { .. } => "post_alert",
            Self::EditAlert { .. } => "edit_alert",
            Self::Archive => "archive",
            Self::Unarchive => "unarchive",
            Self::Unreadable { .. } => "unreadable",
        }
    }

    /// Whether it posts to a fixed channel or a person: what [`SHARED_POST_PREFIX`] finds
    /// stored, the calls of lanes that span incidents.
    pub fn is_shared_post(&self) -> bool {
        matches!(
            self,
            Self::Post {
                to: Target::Channel(_) | Target::Person(_),
                ..
            }
        )
    }

    /// The fixed, shared channel this call posts to (the paging channel), if any.
    pub fn shared_channel(&self) -> Option<&ChannelRef> {
        match self {
            Self::Post {
                to: Target::Channel(c),
                ..
            }
            | Self::PostAlert { channel: c, .. } => Some(c),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_coalesce_posts_do_not() {
        let edit = Op::Edit {
            kind: PostKind::Announcement,
            message: Message::new(),
        };
        assert_eq!(edit.coalesce_key().as_deref(), Some("edit:announcement"));
        let post = Op::Post {
            to: Target::Incident,
            message: Message::new(),
            track: None,
            timeline_entry: None,
        };
        assert_eq!(post.coalesce_key(), None);
    }

    #[test]
    fn only_posts_to_a_fixed_channel_or_a_person_are_stored_with_the_shared_prefix() {
        let message = Message::new();
        let channel = ChannelRef::new("C1", "incidents");
        let post = |to| Op::Post {
            to,
            message: message.clone(),
            track: Some(PostKind::Announcement),
            timeline_entry: Some(1),
        };
        let json = |op: &Op| serde_json::to_string(op).expect("json");
        for op in [
            post(Target::Channel(channel.clone())),
            post(Target::Person(UserRef::id("U1"))),
        ] {
            assert!(json(&op).starts_with(SHARED_POST_PREFIX), "{op:?}");
            assert!(op.is_shared_post(), "{op:?}");
        }
        for op in [
            post(Target::Incident),
            Op::PostAlert {
                alert: 1,
                channel,
                message: message.clone(),
            },
            Op::Edit {
                kind: PostKind::Announcement,
                message,
            },
        ] {
            assert!(!json(&op).starts_with(SHARED_POST_PREFIX), "{op:?}");
            assert!(!op.is_shared_post(), "{op:?}");
        }
    }

    #[test]
    fn the_method_is_the_stored_tag() {
        for op in [
            Op::Archive,
            Op::Pin {
                kind: PostKind::Summary,
            },
            Op::Invite { users: Vec::new() },
        ] {
            let json = serde_json::to_value(&op).expect("json");
            assert_eq!(json["op"], op.method());
        }
    }
}
