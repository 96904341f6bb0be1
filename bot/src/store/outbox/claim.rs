//! Claims on platform calls, so that replicas sharing one database never make a call twice:
//! a call is claimed (its `owner` and `lease_until` set, in a committed write) before it is
//! made, and made only by the replica whose claim took.

use chrono::{DateTime, Utc};

use crate::clock::{from_db, to_db};
use crate::store::Conn;

/// Who is making a call, and until when their claim holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The replica's id ([`crate::replica::id`]).
    pub owner: String,
    /// Past this (on the claiming replica's clock) the claim lapses and another may take the
    /// call over: its owner died mid-call.
    pub until: DateTime<Utc>,
}

impl Claim {
    /// The claim stored in a row's `owner` and `lease_until`, if any.
    pub(super) fn read(owner: Option<String>, until: Option<&str>) -> anyhow::Result<Option<Self>> {
        match (owner, until) {
            (Some(owner), Some(until)) => Ok(Some(Self {
                owner,
                until: from_db(until)?,
            })),
            _ => Ok(None),
        }
    }

    /// Whether someone other than `me` holds it at `now`: the call is theirs to make.
    pub fn held_by_other(&self, me: &str, now: DateTime<Utc>) -> bool {
        self.owner != me && self.until >= now
    }
}

/// Claims pending call `id` for `owner` until `until`, unless another replica holds a live
/// claim on it (one whose lease has not passed `now`) or it is no longer pending. Only a
/// claim that took (`Some`) lets `owner` make the call; it says when the call was first
/// started, as the row holds it now (a replica that died mid-call may have started it since
/// the caller read the row). On PostgreSQL a concurrent claim of the same row waits for this
/// one's commit and then finds it taken.
pub async fn claim(
    conn: &mut Conn,
    id: i64,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<Option<Claimed>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "UPDATE outbox SET owner = $1, lease_until = $2 WHERE id = $3 AND state = 'pending' \
         AND (owner IS NULL OR owner = $1 OR lease_until < $4) RETURNING started_at",
    )
    .bind(owner)
    .bind(to_db(until))
    .bind(id)
    .bind(to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(started_at,)| Claimed::read(started_at.as_deref()))
        .transpose()
}

/// What [`claim`] would say of pending call `id` to the only process on its database
/// (SQLite's file lock), read rather than written: nobody else can hold it, so nothing is
/// claimed, committed or synced. `None` when it is no longer pending.
pub async fn read_unclaimed(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Claimed>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT started_at FROM outbox WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(|(started_at,)| Claimed::read(started_at.as_deref()))
        .transpose()
}

/// [`read_unclaimed`] of a call that belongs to incident `incident_id`, and that incident as it
/// is now, in one statement.
pub async fn read_unclaimed_of(
    conn: &mut Conn,
    id: i64,
    incident_id: i64,
) -> anyhow::Result<Option<(Claimed, Option<crate::store::Incident>)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        call_started_at: Option<String>,
        #[sqlx(flatten)]
        incident: crate::store::incidents::Row,
    }
    let sql = format!(
        "SELECT o.started_at AS call_started_at, {} FROM outbox o \
         JOIN incidents i ON i.id = o.incident_id \
         WHERE o.id = $1 AND o.state = 'pending' AND o.incident_id = $2",
        crate::store::incidents::columns("i")
    );
    let row: Option<Row> = sqlx::query_as(&sql)
        .bind(id)
        .bind(incident_id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some((
            Claimed::read(row.call_started_at.as_deref())?,
            Some(row.incident.try_into()?),
        ))),
        // No longer pending, or its incident is gone (a foreign key forbids that): as the
        // two reads would say.
        None => match read_unclaimed(conn, id).await? {
            Some(claimed) => Ok(Some((
                claimed,
                crate::store::incidents::get(conn, incident_id).await?,
            ))),
            None => Ok(None),
        },
    }
}

/// A claim that took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    /// When the call was first started, if it was (by any replica).
    pub started_at: Option<DateTime<Utc>>,
}

impl Claimed {
    /// The claim as the row's `started_at` says it.
    fn read(started_at: Option<&str>) -> anyhow::Result<Self> {
        Ok(Self {
            started_at: started_at.map(from_db).transpose()?,
        })
    }
}

/// Gives up `owner`'s claim on call `id` without finishing it (its platform is paused): the
/// call stays pending, for any replica.
pub async fn release(conn: &mut Conn, id: i64, owner: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE outbox SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2")
        .bind(id)
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The calls each replica holds a live claim on at `now` (its lease not passed), by owner,
/// owners in order. A replica claims only the call at the head of a lane and makes one call
/// per lane at a time, so this is also how many lanes each replica holds.
pub async fn held(conn: &mut Conn, now: DateTime<Utc>) -> anyhow::Result<Vec<(String, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT owner, COUNT(*) FROM outbox WHERE state = 'pending' AND owner IS NOT NULL \
         AND lease_until >= $1 GROUP BY owner ORDER BY owner",
    )
    .bind(to_db(now))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows)
}

/// Clears every claim: for a process that knows it is the database's only one (SQLite's file
/// lock), whose predecessor's claims died with it. Returns how many there were.
pub async fn release_all(conn: &mut Conn) -> anyhow::Result<u64> {
    let done =
        sqlx::query("UPDATE outbox SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL")
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected())
}
