//! Alerts: one row per alert fingerprint per paging channel, its firing count, its state, its
//! announcement and the incident declared from it.

use std::collections::BTreeMap;

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{MessageRef, PlatformKind, Severity, Tenant};

use crate::clock::{from_db, to_db};

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub tenant: Tenant,
    pub channel_id: String,
    pub fingerprint: String,
    pub source: String,
    pub title: String,
    pub summary: Option<String>,
    pub severity: Severity,
    pub labels: BTreeMap<String, String>,
    pub link: Option<String>,
    pub auto_declare: bool,
    pub firing: bool,
    /// How many notifications said it was firing.
    pub fired: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub incident_id: Option<i64>,
    pub message_ref: Option<MessageRef>,
}

/// What a new alert row holds.
pub struct NewAlert<'a> {
    pub tenant: &'a Tenant,
    pub channel_id: &'a str,
    pub fingerprint: &'a str,
    pub source: &'a str,
    pub title: &'a str,
    pub summary: Option<&'a str>,
    pub severity: Severity,
    pub labels: &'a BTreeMap<String, String>,
    pub link: Option<&'a str>,
    pub auto_declare: bool,
    pub at: DateTime<Utc>,
}

const COLUMNS: &str = "id, platform, workspace, channel_id, fingerprint, source, title, summary, \
     severity, labels, link, auto_declare, state, fired, first_seen, last_seen, resolved_at, \
     incident_id, message_ref";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    platform: String,
    workspace: String,
    channel_id: String,
    fingerprint: String,
    source: String,
    title: String,
    summary: Option<String>,
    severity: i64,
    labels: String,
    link: Option<String>,
    auto_declare: super::Flag,
    state: String,
    fired: i64,
    first_seen: String,
    last_seen: String,
    resolved_at: Option<String>,
    incident_id: Option<i64>,
    message_ref: Option<String>,
}

fn from_row(r: Row) -> anyhow::Result<Alert> {
    let platform = PlatformKind::parse(&r.platform)
        .ok_or_else(|| anyhow::anyhow!("alert {}: unknown platform {}", r.id, r.platform))?;
    Ok(Alert {
        id: r.id,
        tenant: Tenant::new(platform, r.workspace),
        channel_id: r.channel_id,
        fingerprint: r.fingerprint,
        source: r.source,
        title: r.title,
        summary: r.summary,
        severity: Severity::from_level(r.severity)
            .ok_or_else(|| anyhow::anyhow!("alert {}: bad severity {}", r.id, r.severity))?,
        labels: serde_json::from_str(&r.labels)?,
        link: r.link,
        auto_declare: r.auto_declare.into(),
        firing: r.state == "firing",
        fired: r.fired,
        first_seen: from_db(&r.first_seen)?,
        last_seen: from_db(&r.last_seen)?,
        resolved_at: r.resolved_at.as_deref().map(from_db).transpose()?,
        incident_id: r.incident_id,
        message_ref: r.message_ref.map(MessageRef),
    })
}

pub async fn get(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Alert>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM alerts WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(from_row).transpose()
}

/// The alert with this fingerprint announced in this channel, if any.
pub async fn find(
    conn: &mut Conn,
    tenant: &Tenant,
    channel_id: &str,
    fingerprint: &str,
) -> anyhow::Result<Option<Alert>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM alerts \
         WHERE platform = $1 AND workspace = $2 AND channel_id = $3 AND fingerprint = $4"
    ))
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(channel_id)
    .bind(fingerprint)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(from_row).transpose()
}

/// The alerts an incident was declared from.
pub async fn of_incident(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<Alert>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM alerts WHERE incident_id = $1 ORDER BY id"
    ))
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(from_row).collect()
}

pub async fn insert(conn: &mut Conn, new: NewAlert<'_>) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alerts (platform, workspace, channel_id, fingerprint, source, title, summary, \
         severity, labels, link, auto_declare, state, fired, first_seen, last_seen) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'firing', 1, $12, $12) RETURNING id",
    )
    .bind(new.tenant.platform.as_str())
    .bind(&new.tenant.workspace)
    .bind(new.channel_id)
    .bind(new.fingerprint)
    .bind(new.source)
    .bind(new.title)
    .bind(new.summary)
    .bind(i64::from(new.severity.level()))
    .bind(serde_json::to_string(new.labels)?)
    .bind(new.link)
    .bind(super::Flag(new.auto_declare))
    .bind(to_db(new.at))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// The alert fired again: one more notification, firing (again, if it had resolved).
pub async fn fired_again(conn: &mut Conn, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE alerts SET fired = fired + 1, last_seen = $1, state = 'firing', resolved_at = NULL \
         WHERE id = $2",
    )
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn resolve(conn: &mut Conn, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query("UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE id = $2")
        .bind(to_db(at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn link(conn: &mut Conn, id: i64, incident_id: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE alerts SET incident_id = $1 WHERE id = $2")
        .bind(incident_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The outbox key that makes pending edits of one alert's announcement replace each other.
pub fn edit_key(id: i64) -> String {
    format!("edit:alert:{id}")
}

/// Supersedes the alert's pending edits that have not been tried: only the newest is made.
pub async fn supersede_edits(conn: &mut Conn, id: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET state = 'superseded', finished_at = $1 \
         WHERE state = 'pending' AND attempts = 0 AND incident_id IS NULL AND coalesce_key = $2",
    )
    .bind(to_db(at))
    .bind(edit_key(id))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Remembers the announcement, so later changes edit it.
pub async fn set_message(conn: &mut Conn, id: i64, message: &MessageRef) -> anyhow::Result<()> {
    sqlx::query("UPDATE alerts SET message_ref = $1 WHERE id = $2")
        .bind(&message.0)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
