//! Timeline entries: every command and state change of an incident, in order.

use chrono::{DateTime, Utc};
use klaxon_commands::UserRef;
use serde::Serialize;
use sqlx::SqliteConnection;

use crate::clock::{from_db, to_db};

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: UserRef,
    /// What happened, as one word: `declared`, `severity`, `update`, …
    pub kind: String,
    pub text: String,
    /// The platform's reference of the message this entry was posted as, once posted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ref: Option<String>,
    /// Structured data for some kinds (`severity`, `status`: `{"from": …, "to": …}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

pub async fn append(
    conn: &mut SqliteConnection,
    incident_id: i64,
    at: DateTime<Utc>,
    actor: &UserRef,
    kind: &str,
    text: &str,
) -> anyhow::Result<i64> {
    append_with_data(conn, incident_id, at, actor, kind, text, None).await
}

/// Appends an entry with structured data (e.g. `{"from":"SEV2","to":"SEV1"}`) that readers such
/// as the postmortem's phase diagram use instead of parsing the text.
pub async fn append_with_data(
    conn: &mut SqliteConnection,
    incident_id: i64,
    at: DateTime<Utc>,
    actor: &UserRef,
    kind: &str,
    text: &str,
    data: Option<&serde_json::Value>,
) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO timeline (incident_id, at, actor_id, actor_name, kind, text, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(incident_id)
    .bind(to_db(at))
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(kind)
    .bind(text)
    .bind(data.map(serde_json::Value::to_string))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn entry(
    (id, at, actor_id, actor_name, kind, text, message_ref, data): Row,
) -> anyhow::Result<Entry> {
    Ok(Entry {
        id,
        at: from_db(&at)?,
        actor: UserRef {
            id: actor_id,
            name: actor_name,
        },
        kind,
        text,
        message_ref,
        data: data.as_deref().map(serde_json::from_str).transpose()?,
    })
}

/// Every entry, oldest first.
pub async fn all(conn: &mut SqliteConnection, incident_id: i64) -> anyhow::Result<Vec<Entry>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, actor_id, actor_name, kind, text, message_ref, data FROM timeline \
         WHERE incident_id = $1 ORDER BY at, id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(entry).collect()
}

/// The last `limit` entries, oldest first.
pub async fn last(
    conn: &mut SqliteConnection,
    incident_id: i64,
    limit: u32,
) -> anyhow::Result<Vec<Entry>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM (SELECT id, at, actor_id, actor_name, kind, text, message_ref, data FROM timeline \
         WHERE incident_id = $1 ORDER BY at DESC, id DESC LIMIT $2) ORDER BY at, id",
    )
    .bind(incident_id)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(entry).collect()
}

pub async fn set_message_ref(
    conn: &mut SqliteConnection,
    entry_id: i64,
    message_ref: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE timeline SET message_ref = $1 WHERE id = $2")
        .bind(message_ref)
        .bind(entry_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Rewrites an entry's text (a captured message that was edited or deleted).
pub async fn set_text(
    conn: &mut SqliteConnection,
    entry_id: i64,
    text: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE timeline SET text = $1 WHERE id = $2")
        .bind(text)
        .bind(entry_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes an entry that only showed a captured message (its capture keeps the text).
pub async fn remove(conn: &mut SqliteConnection, entry_id: i64) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM timeline WHERE id = $1 AND kind = 'captured'")
        .bind(entry_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
