//! Messages captured into the timeline by a reaction, and who marked them.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{Captured, UserRef};

use crate::clock::{from_db, to_db};

/// A captured message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub id: i64,
    pub incident_id: i64,
    pub message_ref: String,
    pub posted_at: DateTime<Utc>,
    pub author: UserRef,
    pub text: String,
    pub permalink: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub timeline_id: Option<i64>,
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
);

pub async fn get(
    conn: &mut Conn,
    incident_id: i64,
    message_ref: &str,
) -> anyhow::Result<Option<Capture>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, incident_id, message_ref, posted_at, author_id, author_name, text, permalink, \
         deleted_at, timeline_id FROM captured_messages WHERE incident_id = $1 AND message_ref = $2",
    )
    .bind(incident_id)
    .bind(message_ref)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(
        |(
            id,
            incident_id,
            message_ref,
            posted_at,
            author_id,
            author_name,
            text,
            permalink,
            deleted_at,
            timeline_id,
        )| {
            Ok(Capture {
                id,
                incident_id,
                message_ref,
                posted_at: from_db(&posted_at)?,
                author: UserRef {
                    id: author_id,
                    name: author_name,
                },
                text,
                permalink,
                deleted_at: deleted_at.as_deref().map(from_db).transpose()?,
                timeline_id,
            })
        },
    )
    .transpose()
}

/// Records a newly captured message; returns its id.
pub async fn insert(
    conn: &mut Conn,
    incident_id: i64,
    channel_id: &str,
    message_ref: &str,
    message: &Captured,
    now: DateTime<Utc>,
    timeline_id: i64,
) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO captured_messages (incident_id, channel_id, message_ref, posted_at, \
         author_id, author_name, text, original_text, permalink, captured_at, timeline_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10) RETURNING id",
    )
    .bind(incident_id)
    .bind(channel_id)
    .bind(message_ref)
    .bind(to_db(message.at))
    .bind(&message.author.id)
    .bind(&message.author.name)
    .bind(&message.text)
    .bind(&message.permalink)
    .bind(to_db(now))
    .bind(timeline_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Sets (or clears) the entry that shows the capture.
pub async fn set_timeline(
    conn: &mut Conn,
    id: i64,
    timeline_id: Option<i64>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE captured_messages SET timeline_id = $1 WHERE id = $2")
        .bind(timeline_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The message was edited: what it says now.
pub async fn edited(conn: &mut Conn, id: i64, text: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query("UPDATE captured_messages SET text = $1, edited_at = $2 WHERE id = $3")
        .bind(text)
        .bind(to_db(at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The message was deleted on the platform; what it said is kept.
pub async fn deleted(conn: &mut Conn, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query("UPDATE captured_messages SET deleted_at = $1 WHERE id = $2")
        .bind(to_db(at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn mark(conn: &mut Conn, id: i64, user_id: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO capture_marks (capture_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes one person's mark off; returns how many marks remain.
pub async fn unmark(conn: &mut Conn, id: i64, user_id: &str) -> anyhow::Result<i64> {
    sqlx::query("DELETE FROM capture_marks WHERE capture_id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM capture_marks WHERE capture_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(left)
}
