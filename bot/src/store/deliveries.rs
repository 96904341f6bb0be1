//! Deliveries already answered, so a platform retry or a double click has one effect.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{Reply, Tenant};

use crate::clock::to_db;

/// The reply already given to this delivery, if any. Call it in the write transaction that
/// records the reply ([`put`]): the same delivery handed to two replicas at once (a platform's
/// retry landing on the other one) is then answered by one, and the other waits for its commit
/// and gives the same answer.
pub async fn get(
    conn: &mut Conn,
    tenant: &Tenant,
    delivery_id: &str,
) -> anyhow::Result<Option<Reply>> {
    crate::store::serialize(
        conn,
        &format!(
            "delivery {} {} {delivery_id}",
            tenant.platform.as_str(),
            tenant.workspace
        ),
    )
    .await?;
    let row: Option<String> = sqlx::query_scalar(
        "SELECT reply FROM deliveries WHERE platform = $1 AND workspace = $2 AND delivery_id = $3",
    )
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(delivery_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|json| serde_json::from_str(&json).map_err(anyhow::Error::from))
        .transpose()
}

/// Records the reply in the command's own transaction.
pub async fn put(
    conn: &mut Conn,
    tenant: &Tenant,
    delivery_id: &str,
    at: DateTime<Utc>,
    reply: &Reply,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO deliveries (platform, workspace, delivery_id, received_at, reply) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(delivery_id)
    .bind(to_db(at))
    .bind(serde_json::to_string(reply)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes up to `limit` deliveries received before `before`; returns how many.
pub async fn prune(conn: &mut Conn, before: DateTime<Utc>, limit: i64) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM deliveries WHERE (platform, workspace, delivery_id) IN \
         (SELECT platform, workspace, delivery_id FROM deliveries \
         WHERE received_at < $1 ORDER BY received_at LIMIT $2)",
    )
    .bind(to_db(before))
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}
