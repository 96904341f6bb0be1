//! Tracked posts: the messages Klaxon keeps editing (announcement, pinned summary).

use crate::store::Conn;
use klaxon_commands::MessageRef;
use serde::{Deserialize, Serialize};

/// Which tracked post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    /// The paging-channel announcement.
    Announcement,
    /// The summary pinned in the incident channel.
    Summary,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Announcement => "announcement",
            Self::Summary => "summary",
        }
    }
}

/// Where a tracked post lives: (channel id, message).
pub async fn get(
    conn: &mut Conn,
    incident_id: i64,
    kind: PostKind,
) -> anyhow::Result<Option<(String, MessageRef)>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT channel_id, message_ref FROM posts WHERE incident_id = $1 AND kind = $2",
    )
    .bind(incident_id)
    .bind(kind.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(c, m)| (c, MessageRef(m))))
}

pub async fn put(
    conn: &mut Conn,
    incident_id: i64,
    kind: PostKind,
    channel_id: &str,
    message: &MessageRef,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO posts (incident_id, kind, channel_id, message_ref) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (incident_id, kind) DO UPDATE SET channel_id = excluded.channel_id, \
         message_ref = excluded.message_ref",
    )
    .bind(incident_id)
    .bind(kind.as_str())
    .bind(channel_id)
    .bind(&message.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
