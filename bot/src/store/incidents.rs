//! Incidents and their roles.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{ChannelRef, PlatformKind, Role, Severity, Status, Tenant, UserRef};

use crate::clock::{from_db, to_db};

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: i64,
    pub tenant: Tenant,
    /// Per-tenant sequence number: shown as `INC-<number>`.
    pub number: i64,
    pub title: String,
    pub severity: Severity,
    pub status: Status,
    pub private: bool,
    pub declared_by: UserRef,
    pub declared_in: String,
    pub declared_at: DateTime<Utc>,
    pub acknowledged: Option<(UserRef, DateTime<Utc>)>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
    pub last_update: Option<(DateTime<Utc>, String)>,
    pub channel_base: String,
    pub channel_planned: String,
    pub channel_name: String,
    pub channel_id: Option<String>,
    /// The last escalation tier paged (0: none yet).
    pub escalation_tier: i64,
    /// `/inc remind every`: this incident's own update cadence.
    pub update_every: Option<klaxon_commands::Duration>,
    /// `/inc remind off`.
    pub reminders_off: bool,
}

impl Incident {
    /// `INC-7`.
    pub fn key(&self) -> String {
        format!("INC-{}", self.number)
    }

    /// The incident channel, as far as it is known.
    pub fn channel(&self) -> ChannelRef {
        ChannelRef {
            id: self.channel_id.clone(),
            name: self.channel_name.clone(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.status != Status::Resolved
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct Row {
    id: i64,
    platform: String,
    workspace: String,
    number: i64,
    title: String,
    severity: i64,
    status: String,
    private: super::Flag,
    declared_by_id: String,
    declared_by_name: Option<String>,
    declared_in: String,
    declared_at: String,
    acknowledged_by_id: Option<String>,
    acknowledged_by_name: Option<String>,
    acknowledged_at: Option<String>,
    resolved_at: Option<String>,
    resolution: Option<String>,
    last_update_at: Option<String>,
    last_update: Option<String>,
    channel_base: String,
    channel_planned: String,
    channel_name: String,
    channel_id: Option<String>,
    escalation_tier: i64,
    update_every_secs: Option<i64>,
    reminders_off: super::Flag,
}

impl TryFrom<Row> for Incident {
    type Error = anyhow::Error;

    fn try_from(r: Row) -> anyhow::Result<Self> {
        let platform = PlatformKind::parse(&r.platform)
            .ok_or_else(|| anyhow::anyhow!("unknown platform {:?}", r.platform))?;
        let acknowledged = match (r.acknowledged_by_id, r.acknowledged_at) {
            (Some(id), Some(at)) => Some((user(id, r.acknowledged_by_name), from_db(&at)?)),
            _ => None,
        };
        let last_update = match (r.last_update_at, r.last_update) {
            (Some(at), Some(text)) => Some((from_db(&at)?, text)),
            _ => None,
        };
        Ok(Self {
            id: r.id,
            tenant: Tenant::new(platform, r.workspace),
            number: r.number,
            title: r.title,
            severity: Severity::from_level(r.severity)
                .ok_or_else(|| anyhow::anyhow!("bad severity {}", r.severity))?,
            status: klaxon_commands::Status::parse(&r.status)
                .map_err(|_| anyhow::anyhow!("bad status {:?}", r.status))?,
            private: r.private.into(),
            declared_by: user(r.declared_by_id, r.declared_by_name),
            declared_in: r.declared_in,
            declared_at: from_db(&r.declared_at)?,
            acknowledged,
            resolved_at: r.resolved_at.as_deref().map(from_db).transpose()?,
            resolution: r.resolution,
            last_update,
            channel_base: r.channel_base,
            channel_planned: r.channel_planned,
            channel_name: r.channel_name,
            channel_id: r.channel_id,
            escalation_tier: r.escalation_tier,
            update_every: r
                .update_every_secs
                .and_then(|s| u64::try_from(s).ok())
                .map(klaxon_commands::Duration::from_secs),
            reminders_off: r.reminders_off.into(),
        })
    }
}

fn user(id: String, name: Option<String>) -> UserRef {
    UserRef { id, name }
}

const COLUMNS: &str = "id, platform, workspace, number, title, severity, status, private, \
    declared_by_id, declared_by_name, declared_in, declared_at, acknowledged_by_id, \
    acknowledged_by_name, acknowledged_at, resolved_at, resolution, last_update_at, last_update, \
    channel_base, channel_planned, channel_name, channel_id, escalation_tier, update_every_secs, \
    reminders_off";

/// The columns an incident is read from, each prefixed with the table's alias `table`.
pub(super) fn columns(table: &str) -> String {
    COLUMNS
        .split(',')
        .map(|c| format!("{table}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn select(filter: &str) -> String {
    format!("SELECT {COLUMNS} FROM incidents WHERE {filter}")
}

pub(super) fn convert(rows: Vec<Row>) -> anyhow::Result<Vec<Incident>> {
    rows.into_iter().map(Incident::try_from).collect()
}

pub async fn get(conn: &mut Conn, id: i64) -> anyhow::Result<Option<Incident>> {
    let row = sqlx::query_as::<_, Row>(&select("id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Incident::try_from).transpose()
}

/// The incidents among `ids` that exist, in no particular order (one statement for all).
pub async fn get_many(conn: &mut Conn, ids: &[i64]) -> anyhow::Result<Vec<Incident>> {
    let mut found = Vec::with_capacity(ids.len());
    for ids in ids.chunks(crate::store::batch::MOST) {
        let sql = select(&format!(
            "id IN ({})",
            crate::store::batch::list(1, ids.len())
        ));
        let mut query = sqlx::query_as::<_, Row>(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        found.extend(convert(query.fetch_all(&mut *conn).await?)?);
    }
    Ok(found)
}

/// The incident whose channel this is, if any.
pub async fn by_channel(
    conn: &mut Conn,
    tenant: &Tenant,
    channel_id: &str,
) -> anyhow::Result<Option<Incident>> {
    let row = sqlx::query_as::<_, Row>(&select(
        "platform = $1 AND workspace = $2 AND channel_id = $3",
    ))
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(channel_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Incident::try_from).transpose()
}

/// The incident whose channel Klaxon planned under this name.
pub async fn by_planned_channel(
    conn: &mut Conn,
    tenant: &Tenant,
    name: &str,
) -> anyhow::Result<Option<Incident>> {
    let row = sqlx::query_as::<_, Row>(&select(
        "platform = $1 AND workspace = $2 AND channel_planned = $3",
    ))
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Incident::try_from).transpose()
}

pub async fn by_number(
    conn: &mut Conn,
    tenant: &Tenant,
    number: i64,
) -> anyhow::Result<Option<Incident>> {
    let row = sqlx::query_as::<_, Row>(&select("platform = $1 AND workspace = $2 AND number = $3"))
        .bind(tenant.platform.as_str())
        .bind(&tenant.workspace)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Incident::try_from).transpose()
}

/// Every incident numbered `number`, in any tenant (for the CLI, which may not know the tenant).
pub async fn by_number_any_tenant(conn: &mut Conn, number: i64) -> anyhow::Result<Vec<Incident>> {
    let rows = sqlx::query_as::<_, Row>(&select("number = $1 ORDER BY platform, workspace"))
        .bind(number)
        .fetch_all(&mut *conn)
        .await?;
    convert(rows)
}

/// Open incidents of a tenant, worst first, then oldest first.
pub async fn open(conn: &mut Conn, tenant: &Tenant) -> anyhow::Result<Vec<Incident>> {
    let rows = sqlx::query_as::<_, Row>(&select(
        "platform = $1 AND workspace = $2 AND status <> 'resolved' ORDER BY severity, number",
    ))
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .fetch_all(&mut *conn)
    .await?;
    convert(rows)
}

/// Every incident, in every tenant, newest first (for the CLI).
pub async fn all(conn: &mut Conn) -> anyhow::Result<Vec<Incident>> {
    let rows = sqlx::query_as::<_, Row>(&select("1 = 1 ORDER BY declared_at DESC, id DESC"))
        .fetch_all(&mut *conn)
        .await?;
    convert(rows)
}

/// How many incidents are open, by severity, across every tenant (for `/metrics`).
pub async fn open_by_severity(conn: &mut Conn) -> anyhow::Result<Vec<(Severity, i64)>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT severity, COUNT(*) FROM incidents WHERE status <> 'resolved' GROUP BY severity",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(level, n)| Severity::from_level(level).map(|s| (s, n)))
        .collect())
}

/// The next per-tenant number. Call inside the write transaction that inserts it.
pub async fn next_number(conn: &mut Conn, tenant: &Tenant) -> anyhow::Result<i64> {
    // Two replicas declaring at once would both read the same highest number.
    super::serialize(
        conn,
        &format!(
            "incident numbers {} {}",
            tenant.platform.as_str(),
            tenant.workspace
        ),
    )
    .await?;
    let n: i64 = sqlx::query_scalar(
        "SELECT COALESCE((SELECT number FROM incidents WHERE platform = $1 AND workspace = $2 \
         ORDER BY number DESC LIMIT 1), 0) + 1",
    )
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// Whether an incident of this tenant other than `except` already uses (or planned) a
/// channel name.
pub async fn channel_name_used(
    conn: &mut Conn,
    tenant: &Tenant,
    name: &str,
    except: Option<i64>,
) -> anyhow::Result<bool> {
    // Two indexed lookups rather than one OR, which SQLite would answer with a scan.
    let used: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM incidents WHERE platform = $1 AND workspace = $2 \
         AND channel_planned = $3 AND id IS DISTINCT FROM $4 \
         UNION ALL SELECT 1 FROM incidents WHERE platform = $1 AND workspace = $2 \
         AND channel_name = $3 AND id IS DISTINCT FROM $4 LIMIT 1",
    )
    .bind(tenant.platform.as_str())
    .bind(&tenant.workspace)
    .bind(name)
    .bind(except)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(used.is_some())
}

/// What a new incident starts with.
pub struct NewIncident<'a> {
    pub tenant: &'a Tenant,
    pub number: i64,
    pub title: &'a str,
    pub severity: Severity,
    pub private: bool,
    pub declared_by: &'a UserRef,
    pub declared_in: &'a str,
    pub at: DateTime<Utc>,
    pub channel_base: &'a str,
    pub channel: &'a str,
}

pub async fn insert(conn: &mut Conn, new: NewIncident<'_>) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO incidents (platform, workspace, number, title, severity, status, private, \
         declared_by_id, declared_by_name, declared_in, declared_at, channel_base, channel_planned, \
         channel_name) VALUES ($1, $2, $3, $4, $5, 'triage', $6, $7, $8, $9, $10, $11, $12, $12) \
         RETURNING id",
    )
    .bind(new.tenant.platform.as_str())
    .bind(&new.tenant.workspace)
    .bind(new.number)
    .bind(new.title)
    .bind(i64::from(new.severity.level()))
    .bind(super::Flag(new.private))
    .bind(&new.declared_by.id)
    .bind(&new.declared_by.name)
    .bind(new.declared_in)
    .bind(to_db(new.at))
    .bind(new.channel_base)
    .bind(new.channel)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn set_severity(conn: &mut Conn, id: i64, severity: Severity) -> anyhow::Result<()> {
    sqlx::query("UPDATE incidents SET severity = $1 WHERE id = $2")
        .bind(i64::from(severity.level()))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets the status; `resolved_at` and `resolution` follow it (set on resolve, cleared on reopen).
pub async fn set_status(
    conn: &mut Conn,
    id: i64,
    status: Status,
    at: DateTime<Utc>,
    resolution: Option<&str>,
) -> anyhow::Result<()> {
    let resolved_at = (status == Status::Resolved).then(|| to_db(at));
    sqlx::query(
        "UPDATE incidents SET status = $1, resolved_at = $2, \
         resolution = CASE WHEN $1 = 'resolved' THEN $3 ELSE NULL END WHERE id = $4",
    )
    .bind(status.as_str())
    .bind(resolved_at)
    .bind(resolution)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn acknowledge(
    conn: &mut Conn,
    id: i64,
    by: &UserRef,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE incidents SET acknowledged_by_id = $1, acknowledged_by_name = $2, \
         acknowledged_at = $3 WHERE id = $4",
    )
    .bind(&by.id)
    .bind(&by.name)
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn record_update(
    conn: &mut Conn,
    id: i64,
    text: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE incidents SET last_update = $1, last_update_at = $2 WHERE id = $3")
        .bind(text)
        .bind(to_db(at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records the channel the platform created for the incident.
pub async fn set_channel(conn: &mut Conn, id: i64, channel: &ChannelRef) -> anyhow::Result<()> {
    sqlx::query("UPDATE incidents SET channel_id = $1, channel_name = $2 WHERE id = $3")
        .bind(&channel.id)
        .bind(&channel.name)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// When Klaxon archived the incident's channel; `None` while it is not archived.
pub async fn archived_at(conn: &mut Conn, id: i64) -> anyhow::Result<Option<DateTime<Utc>>> {
    let at: Option<Option<String>> =
        sqlx::query_scalar("SELECT archived_at FROM incidents WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    at.flatten().as_deref().map(from_db).transpose()
}

/// Records that the incident's channel was archived (`Some`) or brought back (`None`).
pub async fn set_archived(
    conn: &mut Conn,
    id: i64,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE incidents SET archived_at = $1 WHERE id = $2")
        .bind(at.map(to_db))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Who holds each role, in role order.
pub async fn roles(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<(Role, UserRef)>> {
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT role, user_id, user_name FROM roles WHERE incident_id = $1")
            .bind(incident_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut roles = rows
        .into_iter()
        .map(|(role, id, name)| {
            let role = Role::parse(&role).map_err(|_| anyhow::anyhow!("bad role {role:?}"))?;
            Ok((role, user(id, name)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    roles.sort_by_key(|(role, _)| Role::ALL.iter().position(|r| r == role));
    Ok(roles)
}

/// The incident commander of each of `ids` that has one (one statement for all).
pub async fn ics(
    conn: &mut Conn,
    ids: &[i64],
) -> anyhow::Result<std::collections::HashMap<i64, UserRef>> {
    let mut ics = std::collections::HashMap::with_capacity(ids.len());
    for ids in ids.chunks(crate::store::batch::MOST - 1) {
        let sql = format!(
            "SELECT incident_id, user_id, user_name FROM roles WHERE role = $1 \
             AND incident_id IN ({})",
            crate::store::batch::list(2, ids.len())
        );
        let mut query =
            sqlx::query_as::<_, (i64, String, Option<String>)>(&sql).bind(Role::Ic.as_str());
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&mut *conn).await?;
        ics.extend(
            rows.into_iter()
                .map(|(incident, id, name)| (incident, user(id, name))),
        );
    }
    Ok(ics)
}

pub async fn set_role(
    conn: &mut Conn,
    incident_id: i64,
    role: Role,
    user: &UserRef,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO roles (incident_id, role, user_id, user_name, assigned_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (incident_id, role) DO UPDATE SET user_id = excluded.user_id, \
         user_name = excluded.user_name, assigned_at = excluded.assigned_at",
    )
    .bind(incident_id)
    .bind(role.as_str())
    .bind(&user.id)
    .bind(&user.name)
    .bind(to_db(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_escalation_tier(conn: &mut Conn, id: i64, tier: i64) -> anyhow::Result<()> {
    sqlx::query("UPDATE incidents SET escalation_tier = $1 WHERE id = $2")
        .bind(tier)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// `/inc remind every` (`Some`) and `/inc remind off`/`on` settings.
pub async fn set_reminder_settings(
    conn: &mut Conn,
    id: i64,
    update_every: Option<klaxon_commands::Duration>,
    off: bool,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE incidents SET update_every_secs = $1, reminders_off = $2 WHERE id = $3")
        .bind(update_every.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
        .bind(super::Flag(off))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
