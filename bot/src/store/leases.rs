//! Leases: a named role (the Discord gateway's connection) that one replica holds at a time,
//! until its expiry unless it renews it. A row, not a session advisory lock: it works through
//! a transaction pooler, and holding it costs no connection. Times are each replica's real
//! clock, so the replicas' clocks must agree to well within a lease (NTP).

use chrono::{DateTime, Utc};

use crate::clock::{from_db, to_db};
use crate::store::Conn;

/// Who holds a lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub owner: String,
    pub expires_at: DateTime<Utc>,
}

/// Takes or renews lease `name` for `owner` until `until`, in one statement: it succeeds only
/// when the lease is free, expired at `now`, or already `owner`'s. `true` when `owner` holds
/// it now.
pub async fn take(
    conn: &mut Conn,
    name: &str,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
         WHERE leases.owner = excluded.owner OR leases.expires_at <= $4",
    )
    .bind(name)
    .bind(owner)
    .bind(to_db(until))
    .bind(to_db(now))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives lease `name` up if `owner` holds it (a clean stop: the next taker need not wait for
/// it to expire). `true` when it was `owner`'s.
pub async fn release(conn: &mut Conn, name: &str, owner: &str) -> anyhow::Result<bool> {
    let done = sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
        .bind(name)
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Who holds lease `name` at `now`, if anyone (an expired lease is nobody's).
pub async fn holder(
    conn: &mut Conn,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Holder>> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT owner, expires_at FROM leases WHERE name = $1 AND expires_at > $2")
            .bind(name)
            .bind(to_db(now))
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(owner, at)| {
        Ok(Holder {
            owner,
            expires_at: from_db(&at)?,
        })
    })
    .transpose()
}
