//! What an interrupted call may have made: when a call was first started, and the channel
//! names a channel creation claimed before asking the platform.

use crate::store::Conn;
use chrono::{DateTime, Utc};

use crate::clock::{from_db, to_db};

/// Records that the call is being made now, unless an earlier attempt already did: from here
/// on a retry may find its effect on the platform.
pub async fn mark_started(conn: &mut Conn, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET started_at = $1 WHERE id = $2 AND started_at IS NULL")
        .bind(to_db(at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A channel name a creation claimed, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelAttempt {
    pub name: String,
    pub at: DateTime<Utc>,
}

/// Claims `name` for the creation `outbox_id` makes, before the platform is asked.
pub async fn claim_channel(
    conn: &mut Conn,
    outbox_id: i64,
    incident_id: i64,
    name: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO channel_attempts (outbox_id, incident_id, name, attempted_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(outbox_id)
    .bind(incident_id)
    .bind(name)
    .bind(to_db(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The names earlier attempts of the creation `outbox_id` claimed, the newest first, each
/// with its earliest claim.
pub async fn channel_attempts(
    conn: &mut Conn,
    outbox_id: i64,
) -> anyhow::Result<Vec<ChannelAttempt>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, MIN(attempted_at) FROM channel_attempts WHERE outbox_id = $1 \
         GROUP BY name ORDER BY MAX(id) DESC",
    )
    .bind(outbox_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(name, at)| {
            Ok(ChannelAttempt {
                name,
                at: from_db(&at)?,
            })
        })
        .collect()
}

/// Gives up the claim on `name`: the platform said someone else holds it.
pub async fn release_channel(conn: &mut Conn, outbox_id: i64, name: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM channel_attempts WHERE outbox_id = $1 AND name = $2")
        .bind(outbox_id)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
