//! The outbox table: platform calls waiting to be made, each an [`Op`] decoded once here.

mod claim;
mod op;
mod page;
mod read;
mod started;

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::Tenant;

pub use claim::{
    Claim, Claimed, claim, held, read_unclaimed, read_unclaimed_of, release, release_all,
};
pub use op::{Op, Target};
pub use page::{pending_shared_after, read_page};
pub use read::{Group, PER_INCIDENT, Read, pending, pending_after, pending_of, read_pending};
pub use started::{ChannelAttempt, channel_attempts, claim_channel, mark_started, release_channel};

use crate::clock::to_db;

/// A pending platform call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: i64,
    pub tenant: Tenant,
    pub incident_id: Option<i64>,
    /// The call, decoded from its stored JSON.
    pub op: Op,
    pub attempts: i64,
    /// Not to be tried before this (real) time, after a transient failure.
    pub not_before: Option<DateTime<Utc>>,
    /// When the command that queued it ran (the engine's clock).
    pub created_at: DateTime<Utc>,
    /// When it was first started (real time): set, an earlier attempt may have reached the
    /// platform.
    pub started_at: Option<DateTime<Utc>>,
    /// The replica making it now, and until when its claim holds ([`claim`]).
    pub claim: Option<Claim>,
}

/// Writes a call in the caller's transaction.
pub async fn enqueue(
    conn: &mut Conn,
    tenant: &Tenant,
    incident_id: Option<i64>,
    op: &Op,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let json = serde_json::to_string(op)?;
    // A newer topic replaces an older one even after that one was tried and postponed by a
    // rate limit, and keeps its wait: only the latest topic is sent, when the limit allows.
    let tried_too = matches!(op, Op::SetTopic { .. });
    insert(
        conn,
        tenant,
        incident_id,
        op.coalesce_key().as_deref(),
        tried_too,
        &json,
        at,
    )
    .await?;
    Ok(())
}

/// [`enqueue`] for many calls at once (a statement per [`MOST`](crate::store::batch::MOST)
/// values, one wake-up): `(tenant, incident, op)` each, all queued at `at`, in order. A call
/// that supersedes others (one with a coalescing key) is queued on its own, as [`enqueue`]
/// does.
pub async fn enqueue_each(
    conn: &mut Conn,
    calls: &[(&Tenant, Option<i64>, Op)],
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut plain = Vec::with_capacity(calls.len());
    for (tenant, incident, op) in calls {
        if op.coalesce_key().is_some() {
            enqueue(conn, tenant, *incident, op, at).await?;
        } else {
            plain.push((*tenant, *incident, serde_json::to_string(op)?));
        }
    }
    if plain.is_empty() {
        return Ok(());
    }
    const WIDTH: usize = 5;
    let at = to_db(at);
    let mut plain = plain.into_iter().peekable();
    while plain.peek().is_some() {
        let part: Vec<_> = plain
            .by_ref()
            .take(crate::store::batch::rows_per_statement(WIDTH))
            .collect();
        let sql = format!(
            "INSERT INTO outbox (platform, workspace, incident_id, op, created_at) VALUES {}",
            crate::store::batch::rows(1, WIDTH, part.len())
        );
        let mut query = sqlx::query(&sql);
        for (tenant, incident, op) in part {
            query = query
                .bind(tenant.platform.as_str())
                .bind(tenant.workspace.clone())
                .bind(incident)
                .bind(op)
                .bind(at.clone());
        }
        query.execute(&mut *conn).await?;
    }
    crate::store::notify::send(conn, crate::store::notify::Wake::Outbox).await
}

/// Adds a call as stored JSON. A pending call of the same incident with the same `coalesce_key` that has not
/// been tried is superseded: only the newest edit of a post or topic is ever made. With
/// `tried_too`, calls already tried and postponed are superseded as well, and the new call
/// keeps the latest of their `not_before` (a rate limit's wait still applies).
async fn insert(
    conn: &mut Conn,
    tenant: &Tenant,
    incident_id: Option<i64>,
    coalesce_key: Option<&str>,
    tried_too: bool,
    op: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let mut not_before: Option<String> = None;
    if let (Some(incident), Some(key)) = (incident_id, coalesce_key) {
        let tried = if tried_too { "" } else { "AND attempts = 0 " };
        not_before = sqlx::query_scalar(&format!(
            "SELECT MAX(not_before) FROM outbox WHERE state = 'pending' {tried}\
             AND incident_id = $1 AND coalesce_key = $2"
        ))
        .bind(incident)
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(&format!(
            "UPDATE outbox SET state = 'superseded', finished_at = $1 \
             WHERE state = 'pending' {tried}AND incident_id = $2 AND coalesce_key = $3"
        ))
        .bind(to_db(at))
        .bind(incident)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (platform, workspace, incident_id, coalesce_key, op, created_at, not_before) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(incident_id)
    .bind(coalesce_key)
    .bind(op)
    .bind(to_db(at))
    .bind(not_before)
    .fetch_one(&mut *conn)
    .await?;
    crate::store::notify::send(conn, crate::store::notify::Wake::Outbox).await?;
    Ok(id)
}

/// Whether the incident has a pending call with this coalescing key.
pub async fn has_pending(
    conn: &mut Conn,
    incident_id: i64,
    coalesce_key: &str,
) -> anyhow::Result<bool> {
    let pending: crate::store::Flag = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM outbox WHERE state = 'pending' \
         AND incident_id = $1 AND coalesce_key = $2)",
    )
    .bind(incident_id)
    .bind(coalesce_key)
    .fetch_one(&mut *conn)
    .await?;
    Ok(pending.into())
}

/// How many calls are still pending (for shutdown and tests).
pub async fn pending_count(conn: &mut Conn) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&mut *conn)
            .await?,
    )
}

pub async fn mark_done(conn: &mut Conn, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'done', attempts = attempts + 1, finished_at = $1, \
         owner = NULL, lease_until = NULL WHERE id = $2",
    )
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks call `id` failed for good, as `owner` found it (`None`: one read, never claimed),
/// unless another replica holds the call now (`owner`'s lease passed mid-call and it was taken
/// over: the outcome is theirs to record). Whether it was marked.
pub async fn mark_failed(
    conn: &mut Conn,
    id: i64,
    owner: Option<&str>,
    error: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1, \
         finished_at = $2, owner = NULL, lease_until = NULL \
         WHERE id = $3 AND (owner IS NULL OR owner = $4)",
    )
    .bind(error)
    .bind(to_db(at))
    .bind(id)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Puts call `id` off until `not_before` after a failed attempt by `owner`, unless another
/// replica holds the call now (as for [`mark_failed`]). Whether it was put off.
pub async fn retry_later(
    conn: &mut Conn,
    id: i64,
    owner: &str,
    error: &str,
    not_before: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $1, not_before = $2, \
         owner = NULL, lease_until = NULL WHERE id = $3 AND (owner IS NULL OR owner = $4)",
    )
    .bind(error)
    .bind(to_db(not_before))
    .bind(id)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes up to `limit` finished calls (done, failed, superseded) queued before `before`;
/// returns how many. Pending calls are never deleted.
pub async fn prune_finished(
    conn: &mut Conn,
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
