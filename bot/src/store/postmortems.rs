//! Postmortem drafts (every version kept), follow-ups and correlation ids.

use crate::store::Conn;
use chrono::{DateTime, NaiveDate, Utc};
use klaxon_commands::UserRef;

use crate::clock::{from_db, to_db};

/// A stored draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: UserRef,
    pub markdown: String,
}

/// Stores a new version; returns its number (1, 2, …).
pub async fn add_version(
    conn: &mut Conn,
    incident_id: i64,
    at: DateTime<Utc>,
    by: &UserRef,
    markdown: &str,
) -> anyhow::Result<i64> {
    // Two replicas at once would both read the same highest number.
    crate::store::serialize(
        conn,
        &format!("postmortem versions of incident {incident_id}"),
    )
    .await?;
    let version: i64 = sqlx::query_scalar(
        "INSERT INTO postmortems (incident_id, version, created_at, created_by_id, created_by_name, markdown) \
         VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM postmortems WHERE incident_id = $1), \
         $2, $3, $4, $5) RETURNING version",
    )
    .bind(incident_id)
    .bind(to_db(at))
    .bind(&by.id)
    .bind(&by.name)
    .bind(markdown)
    .fetch_one(&mut *conn)
    .await?;
    Ok(version)
}

/// One version, or the latest when `version` is `None`.
pub async fn get(
    conn: &mut Conn,
    incident_id: i64,
    version: Option<i64>,
) -> anyhow::Result<Option<Draft>> {
    let row: Option<(i64, String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT version, created_at, created_by_id, created_by_name, markdown FROM postmortems \
         WHERE incident_id = $1 AND ($2 IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
    )
    .bind(incident_id)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(version, at, id, name, markdown)| {
        Ok(Draft {
            version,
            created_at: from_db(&at)?,
            created_by: UserRef { id, name },
            markdown,
        })
    })
    .transpose()
}

/// Sets (`Some`) or clears the postmortem due time.
pub async fn set_due(
    conn: &mut Conn,
    incident_id: i64,
    due: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE incidents SET postmortem_due_at = $1, postmortem_done_at = NULL WHERE id = $2",
    )
    .bind(due.map(to_db))
    .bind(incident_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_done(conn: &mut Conn, incident_id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query("UPDATE incidents SET postmortem_done_at = $1 WHERE id = $2")
        .bind(to_db(at))
        .bind(incident_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// (due, done) of the postmortem.
pub async fn due_and_done(
    conn: &mut Conn,
    incident_id: i64,
) -> anyhow::Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    let (due, done): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT postmortem_due_at, postmortem_done_at FROM incidents WHERE id = $1")
            .bind(incident_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok((
        due.as_deref().map(from_db).transpose()?,
        done.as_deref().map(from_db).transpose()?,
    ))
}

/// A follow-up (action item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Followup {
    pub item: i64,
    pub text: String,
    pub owner: Option<UserRef>,
    pub due: Option<NaiveDate>,
    pub done: Option<(UserRef, DateTime<Utc>)>,
}

type FollowupRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub async fn add_followup(
    conn: &mut Conn,
    incident_id: i64,
    text: &str,
    owner: Option<&UserRef>,
    due: Option<NaiveDate>,
    at: DateTime<Utc>,
) -> anyhow::Result<i64> {
    // Two replicas at once would both read the same highest number.
    crate::store::serialize(conn, &format!("follow-up items of incident {incident_id}")).await?;
    let item: i64 = sqlx::query_scalar(
        "INSERT INTO followups (incident_id, item, text, owner_id, owner_name, due_date, created_at) \
         VALUES ($1, (SELECT COALESCE(MAX(item), 0) + 1 FROM followups WHERE incident_id = $1), \
         $2, $3, $4, $5, $6) RETURNING item",
    )
    .bind(incident_id)
    .bind(text)
    .bind(owner.map(|o| o.id.clone()))
    .bind(owner.and_then(|o| o.name.clone()))
    .bind(due.map(|d| d.format("%Y-%m-%d").to_string()))
    .bind(to_db(at))
    .fetch_one(&mut *conn)
    .await?;
    Ok(item)
}

pub async fn followups(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<Followup>> {
    let rows: Vec<FollowupRow> = sqlx::query_as(
        "SELECT item, text, owner_id, owner_name, due_date, done_at, done_by_id, done_by_name \
         FROM followups WHERE incident_id = $1 ORDER BY item",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(item, text, owner_id, owner_name, due, done_at, by_id, by_name)| {
                let done = match (done_at, by_id) {
                    (Some(at), Some(id)) => Some((UserRef { id, name: by_name }, from_db(&at)?)),
                    _ => None,
                };
                Ok(Followup {
                    item,
                    text,
                    owner: owner_id.map(|id| UserRef {
                        id,
                        name: owner_name,
                    }),
                    due: due
                        .as_deref()
                        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d"))
                        .transpose()?,
                    done,
                })
            },
        )
        .collect()
}

pub async fn followup_done(
    conn: &mut Conn,
    incident_id: i64,
    item: i64,
    by: &UserRef,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE followups SET done_at = $1, done_by_id = $2, done_by_name = $3 \
         WHERE incident_id = $4 AND item = $5",
    )
    .bind(to_db(at))
    .bind(&by.id)
    .bind(&by.name)
    .bind(incident_id)
    .bind(item)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds a correlation id; `false` when it was already recorded.
pub async fn add_ref(
    conn: &mut Conn,
    incident_id: i64,
    id: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO refs (incident_id, ref, added_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(incident_id)
    .bind(id)
    .bind(to_db(at))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn refs(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT ref FROM refs WHERE incident_id = $1 ORDER BY added_at, ref")
            .bind(incident_id)
            .fetch_all(&mut *conn)
            .await?,
    )
}
