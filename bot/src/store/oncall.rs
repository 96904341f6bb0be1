//! On-call covers: who stands in for a schedule layer and when, with who set and removed them.

use std::collections::BTreeMap;

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{Tenant, UserRef};

use crate::clock::{from_db, to_db};
use crate::oncall::Cover;

/// A stored cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCover {
    pub id: i64,
    pub schedule: String,
    pub layer: String,
    pub person: UserRef,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub created_by: String,
    pub removed_at: Option<DateTime<Utc>>,
}

impl StoredCover {
    pub fn cover(&self) -> Cover {
        Cover {
            person: self.person.id.clone(),
            start: self.start,
            end: self.end,
        }
    }
}

/// What a new cover says.
pub struct NewCover<'a> {
    pub schedule: &'a str,
    pub layer: &'a str,
    pub person: &'a UserRef,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut Conn,
    tenant: &Tenant,
    by: &UserRef,
    now: DateTime<Utc>,
    cover: &NewCover<'_>,
) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO oncall_covers (schedule, layer, person_id, person_name, starts_at, ends_at, \
         tenant, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(cover.schedule)
    .bind(cover.layer)
    .bind(&cover.person.id)
    .bind(&cover.person.name)
    .bind(to_db(cover.start))
    .bind(to_db(cover.end))
    .bind(tenant.to_string())
    .bind(&by.id)
    .bind(to_db(now))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

type Row = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
);

const COLUMNS: &str =
    "id, schedule, layer, person_id, person_name, starts_at, ends_at, created_by, removed_at";

fn decode(row: Row) -> anyhow::Result<StoredCover> {
    let (id, schedule, layer, person_id, person_name, start, end, created_by, removed_at) = row;
    Ok(StoredCover {
        id,
        schedule,
        layer,
        person: UserRef {
            id: person_id,
            name: person_name,
        },
        start: from_db(&start)?,
        end: from_db(&end)?,
        created_by,
        removed_at: removed_at.as_deref().map(from_db).transpose()?,
    })
}

/// Covers not removed that end after `after`, oldest first (later covers win), optionally
/// of one schedule.
pub async fn active(
    conn: &mut Conn,
    schedule: Option<&str>,
    after: DateTime<Utc>,
) -> anyhow::Result<Vec<StoredCover>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oncall_covers WHERE removed_at IS NULL AND ends_at > $1 \
         AND ($2 IS NULL OR schedule = $2) ORDER BY id"
    ))
    .bind(to_db(after))
    .bind(schedule)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(decode).collect()
}

/// The active covers of one schedule, by layer, as the rotation code takes them.
pub async fn by_layer(
    conn: &mut Conn,
    schedule: &str,
    after: DateTime<Utc>,
) -> anyhow::Result<BTreeMap<String, Vec<Cover>>> {
    let mut out: BTreeMap<String, Vec<Cover>> = BTreeMap::new();
    for c in active(conn, Some(schedule), after).await? {
        out.entry(c.layer.clone()).or_default().push(c.cover());
    }
    Ok(out)
}

pub async fn get(conn: &mut Conn, id: i64) -> anyhow::Result<Option<StoredCover>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM oncall_covers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(decode).transpose()
}

/// Marks a cover removed; false if it was already.
pub async fn remove(
    conn: &mut Conn,
    id: i64,
    by: &UserRef,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE oncall_covers SET removed_by = $1, removed_at = $2 WHERE id = $3 AND removed_at IS NULL",
    )
    .bind(&by.id)
    .bind(to_db(now))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An on-call notice: the post at a handoff, or the reminder before a shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: i64,
    pub schedule: String,
    pub layer: String,
    /// `handoff` or `reminder`.
    pub kind: String,
    pub shift_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// Plans a notice; one already planned (or fired) for that shift is left as it is.
pub async fn plan_notice(
    conn: &mut Conn,
    schedule: &str,
    layer: &str,
    kind: &str,
    shift_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO oncall_notices (schedule, layer, kind, shift_at, due_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(schedule)
    .bind(layer)
    .bind(kind)
    .bind(to_db(shift_at))
    .bind(to_db(due_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The earliest pending notice due by `now`, for the caller's write transaction to fire. On
/// PostgreSQL it is locked until that commits, and one another replica is firing is passed
/// over; [`claim_notice`] then makes the firing exact.
pub async fn first_due_notice(
    conn: &mut Conn,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Notice>> {
    let lock = crate::store::Backend::of_conn(conn).claim_row();
    let row: Option<(i64, String, String, String, String, String)> = sqlx::query_as(&format!(
        "SELECT id, schedule, layer, kind, shift_at, due_at FROM oncall_notices \
         WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at, id LIMIT 1{lock}",
    ))
    .bind(to_db(now))
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(id, schedule, layer, kind, shift_at, due_at)| {
        Ok(Notice {
            id,
            schedule,
            layer,
            kind,
            shift_at: from_db(&shift_at)?,
            due_at: from_db(&due_at)?,
        })
    })
    .transpose()
}

/// Claims notice `id` for the caller's firing transaction: `false` when it is no longer
/// pending (another replica fired it meanwhile), and the caller rolls back and moves on.
pub async fn claim_notice(conn: &mut Conn, id: i64) -> anyhow::Result<bool> {
    let done =
        sqlx::query("UPDATE oncall_notices SET state = state WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// When the next pending notice is due.
pub async fn next_notice_due(conn: &mut Conn) -> anyhow::Result<Option<DateTime<Utc>>> {
    let at: Option<String> =
        sqlx::query_scalar("SELECT MIN(due_at) FROM oncall_notices WHERE state = 'pending'")
            .fetch_one(&mut *conn)
            .await?;
    at.as_deref().map(from_db).transpose()
}

/// Marks a notice fired (`done`) or found stale (`skipped`).
pub async fn notice_fired(
    conn: &mut Conn,
    id: i64,
    posted: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE oncall_notices SET state = $1, fired_at = $2 WHERE id = $3")
        .bind(if posted { "done" } else { "skipped" })
        .bind(to_db(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
