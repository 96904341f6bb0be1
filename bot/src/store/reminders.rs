//! Reminder schedules: one row per (incident, kind, item), holding its next due time.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::{from_db, to_db};

/// What a reminder is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// No status update for the cadence: remind the IC.
    StatusUpdate,
    /// Not acknowledged in time: page the next escalation tier.
    Ack,
    /// A checklist item still open at its due time: one nudge.
    Checklist,
    /// A follow-up past its due date: remind its owner, then weekly until done.
    Followup,
    /// The postmortem: the business day before it is due (item 0), then when overdue and every
    /// business day after (item 1), until `/inc postmortem done`.
    Postmortem,
    /// Archive the resolved incident's channel (`archive_after` after resolve).
    Archive,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatusUpdate => "status_update",
            Self::Ack => "ack",
            Self::Checklist => "checklist",
            Self::Followup => "followup",
            Self::Postmortem => "postmortem",
            Self::Archive => "archive",
        }
    }

    /// Kinds that belong to the incident while it is open; resolving ends them.
    pub fn ends_with_incident(self) -> bool {
        matches!(self, Self::StatusUpdate | Self::Ack | Self::Checklist)
    }

    fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "status_update" => Ok(Self::StatusUpdate),
            "ack" => Ok(Self::Ack),
            "checklist" => Ok(Self::Checklist),
            "followup" => Ok(Self::Followup),
            "postmortem" => Ok(Self::Postmortem),
            "archive" => Ok(Self::Archive),
            _ => anyhow::bail!("unknown reminder kind {s:?}"),
        }
    }
}

/// A pending reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub id: i64,
    pub incident_id: i64,
    pub kind: Kind,
    pub item: i64,
    pub due_at: DateTime<Utc>,
    pub fired: i64,
    pub last_fired_at: Option<DateTime<Utc>>,
}

type Row = (i64, i64, String, i64, String, i64, Option<String>);

fn reminder((id, incident_id, kind, item, due_at, fired, last): Row) -> anyhow::Result<Reminder> {
    Ok(Reminder {
        id,
        incident_id,
        kind: Kind::parse(&kind)?,
        item,
        due_at: from_db(&due_at)?,
        fired,
        last_fired_at: last.as_deref().map(from_db).transpose()?,
    })
}

const COLUMNS: &str = "id, incident_id, kind, item, due_at, fired, last_fired_at";

/// Sets (or re-keys) a schedule to fire at `due_at`, keeping its fire count.
pub async fn schedule(
    conn: &mut Conn,
    incident_id: i64,
    kind: Kind,
    item: i64,
    due_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    schedule_each(conn, &[(incident_id, kind, item, due_at)]).await
}

/// [`schedule`] for many schedules at once, `(incident, kind, item, due_at)` each, no two
/// the same schedule: a statement per [`MOST`](crate::store::batch::MOST) values, one
/// wake-up.
pub async fn schedule_each(
    conn: &mut Conn,
    schedules: &[(i64, Kind, i64, DateTime<Utc>)],
) -> anyhow::Result<()> {
    const WIDTH: usize = 4;
    if schedules.is_empty() {
        return Ok(());
    }
    for part in schedules.chunks(crate::store::batch::rows_per_statement(WIDTH)) {
        let sql = format!(
            "INSERT INTO reminders (incident_id, kind, item, due_at) VALUES {} \
             ON CONFLICT (incident_id, kind, item) DO UPDATE SET due_at = excluded.due_at, \
             state = 'pending'",
            crate::store::batch::rows(1, WIDTH, part.len())
        );
        let mut query = sqlx::query(&sql);
        for (incident_id, kind, item, due_at) in part {
            query = query
                .bind(*incident_id)
                .bind(kind.as_str())
                .bind(*item)
                .bind(to_db(*due_at));
        }
        query.execute(&mut *conn).await?;
    }
    crate::store::notify::send(conn, crate::store::notify::Wake::Reminders).await?;
    Ok(())
}

/// Records a firing and sets the next due time, or ends the schedule when `next` is `None`.
/// A backoff after earlier failures ends with it.
pub async fn fired(
    conn: &mut Conn,
    id: i64,
    at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    fired_set(conn, &[id], at, next).await
}

/// Moves a pending reminder without counting a firing (quiet hours).
pub async fn postpone(conn: &mut Conn, id: i64, to: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE reminders SET due_at = $1, failures = 0, last_error = NULL, retry_at = NULL \
         WHERE id = $2",
    )
    .bind(to_db(to))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records that firing reminder `id` failed: it is not tried again before `retry_at`; its due
/// time stays, so that it still fires (once) when it can. Returns how many times in a row it
/// has failed.
pub async fn failed(
    conn: &mut Conn,
    id: i64,
    error: &str,
    retry_at: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let failures: Option<i64> = sqlx::query_scalar(
        "UPDATE reminders SET failures = failures + 1, last_error = $1, retry_at = $2 \
         WHERE id = $3 RETURNING failures",
    )
    .bind(error)
    .bind(to_db(retry_at))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(failures.unwrap_or(0))
}

/// How many times in a row reminder `id` has failed to fire.
pub async fn failures(conn: &mut Conn, id: i64) -> anyhow::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar("SELECT failures FROM reminders WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(n.unwrap_or(0))
}

/// Cancels one schedule of an incident (`item = None`: every item of that kind).
pub async fn cancel(
    conn: &mut Conn,
    incident_id: i64,
    kind: Kind,
    item: Option<i64>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE reminders SET state = 'cancelled' WHERE incident_id = $1 AND kind = $2 \
         AND ($3 IS NULL OR item = $3) AND state = 'pending'",
    )
    .bind(incident_id)
    .bind(kind.as_str())
    .bind(item)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Cancels the reminders that end with the incident (status updates, escalation, checklist);
/// follow-up and postmortem reminders outlive it.
pub async fn cancel_open_phase(conn: &mut Conn, incident_id: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE reminders SET state = 'cancelled' WHERE incident_id = $1 AND state = 'pending' \
         AND kind IN ('status_update', 'ack', 'checklist')",
    )
    .bind(incident_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn get(
    conn: &mut Conn,
    incident_id: i64,
    kind: Kind,
    item: i64,
) -> anyhow::Result<Option<Reminder>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reminders WHERE incident_id = $1 AND kind = $2 AND item = $3"
    ))
    .bind(incident_id)
    .bind(kind.as_str())
    .bind(item)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(reminder).transpose()
}

/// The earliest pending reminder due at or before `now` (and not backing off after a failure),
/// for the caller's write transaction to fire. On PostgreSQL it is locked until that commits,
/// and one another replica is firing is passed over; [`claim`] then makes the firing exact.
/// With `except`, one of that kind is passed over.
pub async fn first_due(
    conn: &mut Conn,
    now: DateTime<Utc>,
    except: Option<Kind>,
) -> anyhow::Result<Option<Reminder>> {
    let lock = crate::store::Backend::of_conn(conn).claim_row();
    let except_kind = if except.is_some() {
        "AND kind <> $2 "
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM reminders WHERE state = 'pending' AND due_at <= $1 \
         AND (retry_at IS NULL OR retry_at <= $1) {except_kind}ORDER BY due_at, id LIMIT 1{lock}"
    );
    let mut query = sqlx::query_as::<_, Row>(&sql).bind(to_db(now));
    if let Some(kind) = except {
        query = query.bind(kind.as_str());
    }
    let row = query.fetch_optional(&mut *conn).await?;
    row.map(reminder).transpose()
}

/// Up to `limit` pending reminders of `kind` due at or before `now` (and not backing off),
/// earliest first, for the caller's write transaction to fire as a set. On PostgreSQL they are
/// locked until that commits, and those another replica is firing are passed over;
/// [`claim_set`] then keeps those still as read.
pub async fn due_set(
    conn: &mut Conn,
    kind: Kind,
    now: DateTime<Utc>,
    limit: usize,
) -> anyhow::Result<Vec<Reminder>> {
    let lock = crate::store::Backend::of_conn(conn).claim_row();
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reminders WHERE state = 'pending' AND kind = $2 AND due_at <= $1 \
         AND (retry_at IS NULL OR retry_at <= $1) ORDER BY due_at, id LIMIT $3{lock}"
    ))
    .bind(to_db(now))
    .bind(kind.as_str())
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(reminder).collect()
}

/// [`claim`] for a set (a statement per [`MOST`](crate::store::batch::MOST) reminders): the
/// reminders of `set` still pending at the due time and fire count they were read with, in
/// `set`'s order. The others (fired or moved by another replica since) are left out, and the
/// caller does not fire them.
pub async fn claim_set(conn: &mut Conn, set: Vec<Reminder>) -> anyhow::Result<Vec<Reminder>> {
    let mut now = std::collections::HashMap::with_capacity(set.len());
    for part in set.chunks(crate::store::batch::MOST) {
        let sql = format!(
            "UPDATE reminders SET fired = fired WHERE state = 'pending' AND id IN ({}) \
             RETURNING id, due_at, fired",
            crate::store::batch::list(1, part.len())
        );
        let mut query = sqlx::query_as::<_, (i64, String, i64)>(&sql);
        for r in part {
            query = query.bind(r.id);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        now.extend(
            rows.into_iter()
                .map(|(id, due_at, fired)| (id, (due_at, fired))),
        );
    }
    Ok(set
        .into_iter()
        .filter(|r| now.get(&r.id) == Some(&(to_db(r.due_at), r.fired)))
        .collect())
}

/// [`fired`] for many reminders that fired at `at` and are next due at the same `next`, a
/// statement per [`MOST`](crate::store::batch::MOST) of them.
pub async fn fired_set(
    conn: &mut Conn,
    ids: &[i64],
    at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    for ids in ids.chunks(crate::store::batch::MOST - 2) {
        let sql = format!(
            "UPDATE reminders SET fired = fired + 1, last_fired_at = $1, \
             due_at = COALESCE($2, due_at), \
             state = CASE WHEN $2 IS NULL THEN 'done' ELSE 'pending' END, \
             failures = 0, last_error = NULL, retry_at = NULL \
             WHERE id IN ({})",
            crate::store::batch::list(3, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(to_db(at)).bind(next.map(to_db));
        for id in ids {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Claims `reminder`, as [`first_due`] read it, for the caller's firing transaction: `false`
/// when it is no longer pending at that due time (another replica fired or moved it meanwhile),
/// and the caller rolls back and moves on. On PostgreSQL the row stays locked until the firing
/// commits, so each due time fires once however many replicas look.
pub async fn claim(conn: &mut Conn, reminder: &Reminder) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE reminders SET fired = fired WHERE id = $1 AND due_at = $2 AND fired = $3 \
         AND state = 'pending'",
    )
    .bind(reminder.id)
    .bind(to_db(reminder.due_at))
    .bind(reminder.fired)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When the next pending reminder is due (for one backing off after a failure: when it will
/// be tried again).
pub async fn next_due(conn: &mut Conn) -> anyhow::Result<Option<DateTime<Utc>>> {
    let at: Option<String> = sqlx::query_scalar(
        "SELECT MIN(t) FROM ( \
           SELECT MIN(due_at) AS t FROM reminders WHERE state = 'pending' AND retry_at IS NULL \
           UNION ALL \
           SELECT MIN(CASE WHEN retry_at > due_at THEN retry_at ELSE due_at END) FROM reminders \
           WHERE state = 'pending' AND retry_at IS NOT NULL) AS due",
    )
    .fetch_one(&mut *conn)
    .await?;
    at.as_deref().map(from_db).transpose()
}

/// Pending reminders of an incident, soonest first.
pub async fn pending_for(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<Reminder>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM reminders WHERE incident_id = $1 AND state = 'pending' \
         ORDER BY due_at, id"
    ))
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(reminder).collect()
}
