//! The outbox table: platform calls waiting to be made.

use chrono::{DateTime, Utc};
use klaxon_commands::{PlatformKind, Tenant};
use sqlx::SqliteConnection;

use crate::clock::{from_db, to_db};

/// A pending platform call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub tenant: Tenant,
    pub incident_id: Option<i64>,
    /// The JSON of an [`crate::outbox::Op`].
    pub op: String,
    pub attempts: i64,
    /// Not to be tried before this (real) time, after a transient failure.
    pub not_before: Option<DateTime<Utc>>,
    /// When the command that queued it ran (the engine's clock).
    pub created_at: DateTime<Utc>,
}

/// Adds a call. A pending call of the same incident with the same `coalesce_key` is superseded:
/// only the newest edit of a post or topic is ever made.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    tenant: &Tenant,
    incident_id: Option<i64>,
    coalesce_key: Option<&str>,
    op: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<i64> {
    if let (Some(incident), Some(key)) = (incident_id, coalesce_key) {
        sqlx::query(
            "UPDATE outbox SET state = 'superseded', finished_at = $1 \
             WHERE state = 'pending' AND attempts = 0 AND incident_id = $2 AND coalesce_key = $3",
        )
        .bind(to_db(at))
        .bind(incident)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (platform, workspace, incident_id, coalesce_key, op, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(incident_id)
    .bind(coalesce_key)
    .bind(op)
    .bind(to_db(at))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

type PendingRow = (
    i64,
    String,
    String,
    Option<i64>,
    String,
    i64,
    Option<String>,
    String,
);

/// Pending calls for the given platforms, oldest first.
pub async fn pending(
    conn: &mut SqliteConnection,
    platforms: &[PlatformKind],
    limit: i64,
) -> anyhow::Result<Vec<Pending>> {
    if platforms.is_empty() {
        return Ok(Vec::new());
    }
    // Only the platforms this process serves: calls for another one must not fill the batch.
    let placeholders: Vec<String> = (2..platforms.len() + 2).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT id, platform, workspace, incident_id, op, attempts, not_before, created_at FROM outbox \
         WHERE state = 'pending' AND platform IN ({}) ORDER BY id LIMIT $1",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, PendingRow>(&sql).bind(limit);
    for p in platforms {
        query = query.bind(p.as_str());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, platform, workspace, incident_id, op, attempts, not_before, created_at) in rows {
        let Some(platform) = PlatformKind::parse(&platform) else {
            continue;
        };
        out.push(Pending {
            id,
            tenant: Tenant::new(platform, workspace),
            incident_id,
            op,
            attempts,
            not_before: not_before.as_deref().map(from_db).transpose()?,
            created_at: from_db(&created_at)?,
        });
    }
    Ok(out)
}

/// How many calls are still pending (for shutdown and tests).
pub async fn pending_count(conn: &mut SqliteConnection) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&mut *conn)
            .await?,
    )
}

pub async fn mark_done(
    conn: &mut SqliteConnection,
    id: i64,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'done', attempts = attempts + 1, finished_at = $1 WHERE id = $2",
    )
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn mark_failed(
    conn: &mut SqliteConnection,
    id: i64,
    error: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1, \
         finished_at = $2 WHERE id = $3",
    )
    .bind(error)
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn retry_later(
    conn: &mut SqliteConnection,
    id: i64,
    error: &str,
    not_before: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, not_before = $2 WHERE id = $3",
    )
    .bind(error)
    .bind(to_db(not_before))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes up to `limit` finished calls (done, failed, superseded) queued before `before`;
/// returns how many. Pending calls are never deleted.
pub async fn prune_finished(
    conn: &mut SqliteConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
         WHERE state != 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2)",
    )
    .bind(to_db(before))
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
