//! Read-only queries for the web pages, `klaxon report` and `/metrics`: the filtered incident
//! list, time to acknowledge and to resolve, overdue follow-ups and postmortems.
//!
//! Nothing here writes. The figures are computed here too (a mean per severity and week), so
//! the pages, the report and the metrics can never disagree.

use std::collections::BTreeMap;

use crate::store::Conn;
use chrono::{DateTime, Datelike as _, Duration, NaiveDate, Utc};
use klaxon_commands::{PlatformKind, Severity, Status, Tenant, UserRef};

use super::Incident;
use crate::clock::{from_db, to_db};

/// Which incidents the list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this tenant (a session's workspace); `None`: every tenant.
    pub tenant: Option<Tenant>,
    pub status: StatusFilter,
    pub severity: Option<Severity>,
    /// Declared on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Declared on or before this day (UTC).
    pub to: Option<NaiveDate>,
}

/// The status part of a [`Filter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    Any,
    /// Not resolved.
    Open,
    Is(Status),
}

/// At most this many rows in one list.
pub const LIST_LIMIT: i64 = 200;

/// The incidents the filter selects: open ones first (worst, then newest), then the others,
/// newest first; at most [`LIST_LIMIT`].
pub async fn list(conn: &mut Conn, filter: &Filter) -> anyhow::Result<Vec<Incident>> {
    let (open_only, status) = match filter.status {
        StatusFilter::Any => (false, None),
        StatusFilter::Open => (true, None),
        StatusFilter::Is(s) => (false, Some(s.as_str())),
    };
    let day_after = filter.to.and_then(|d| d.succ_opt());
    let rows = sqlx::query_as::<_, super::incidents::Row>(&super::incidents::select(
        "($1 IS NULL OR platform = $1) AND ($2 IS NULL OR workspace = $2) \
         AND ($3 = 0 OR status <> 'resolved') AND ($4 IS NULL OR status = $4) \
         AND ($5 IS NULL OR severity = $5) AND ($6 IS NULL OR declared_at >= $6) \
         AND ($7 IS NULL OR declared_at < $7) \
         ORDER BY status = 'resolved', CASE WHEN status = 'resolved' THEN 0 ELSE severity END, \
         declared_at DESC, id DESC LIMIT $8",
    ))
    .bind(filter.tenant.as_ref().map(|t| t.platform.as_str()))
    .bind(filter.tenant.as_ref().map(|t| t.workspace.clone()))
    .bind(super::Flag(open_only))
    .bind(status)
    .bind(filter.severity.map(|s| i64::from(s.level())))
    .bind(filter.from.map(midnight))
    .bind(day_after.map(midnight))
    .bind(LIST_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    super::incidents::convert(rows)
}

/// An incident by its number, in the one tenant given or in any (several when numbers repeat
/// across tenants).
pub async fn by_number(
    conn: &mut Conn,
    tenant: Option<&Tenant>,
    number: i64,
) -> anyhow::Result<Vec<Incident>> {
    match tenant {
        Some(t) => Ok(super::incidents::by_number(conn, t, number)
            .await?
            .into_iter()
            .collect()),
        None => super::incidents::by_number_any_tenant(conn, number).await,
    }
}

/// How many tenants have incidents (the pages name the workspace only when there are several).
pub async fn tenant_count(conn: &mut Conn) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT DISTINCT platform, workspace FROM incidents) AS tenants",
    )
    .fetch_one(&mut *conn)
    .await?)
}

/// The stored draft versions of an incident's postmortem: (version, when, by whom), newest first.
pub async fn postmortem_versions(
    conn: &mut Conn,
    incident_id: i64,
) -> anyhow::Result<Vec<(i64, DateTime<Utc>, UserRef)>> {
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT version, created_at, created_by_id, created_by_name FROM postmortems \
         WHERE incident_id = $1 ORDER BY version DESC",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(v, at, id, name)| Ok((v, from_db(&at)?, UserRef { id, name })))
        .collect()
}

/// One attempt at a runbook action, as the incident page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub action: String,
    pub requested_by: UserRef,
    pub requested_at: DateTime<Utc>,
    /// `awaiting`, `running`, `done`, `failed`, `refused`, `expired`, `unknown`…
    pub state: String,
    /// Who confirmed it, for an action that asked.
    pub confirmed_by: Option<String>,
    /// The target's HTTP status, once sent.
    pub http_status: Option<i64>,
    /// What the guardrails or the target answered.
    pub outcome: Option<String>,
}

/// The runbook action runs of an incident, oldest first. Parameters are left out: a page
/// never shows what a person typed into an action, which may name a secret's value.
pub async fn runs(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<RunRow>> {
    type Row = (
        String,
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT action, requested_by_id, requested_by_name, requested_at, state, \
         confirmed_by_id, status, outcome FROM action_runs WHERE incident_id = $1 ORDER BY id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(action, id, name, at, state, confirmed_by, http_status, outcome)| {
                Ok(RunRow {
                    action,
                    requested_by: UserRef { id, name },
                    requested_at: from_db(&at)?,
                    state,
                    confirmed_by,
                    http_status,
                    outcome,
                })
            },
        )
        .collect()
}

/// The runbook attached to an incident, if any.
pub async fn runbook(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT runbook_id FROM incident_runbooks WHERE incident_id = $1 ORDER BY started_at DESC LIMIT 1",
    )
    .bind(incident_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// One incident's times, for the figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub severity: Severity,
    pub declared_at: DateTime<Utc>,
    pub to_ack: Option<Duration>,
    pub to_resolve: Option<Duration>,
}

/// The times of every incident declared since `since` (every incident with `None`), in the
/// tenant given or in all.
pub async fn timings(
    conn: &mut Conn,
    tenant: Option<&Tenant>,
    since: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<Timing>> {
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT severity, declared_at, acknowledged_at, resolved_at FROM incidents \
         WHERE ($1 IS NULL OR platform = $1) AND ($2 IS NULL OR workspace = $2) \
         AND ($3 IS NULL OR declared_at >= $3) ORDER BY declared_at",
    )
    .bind(tenant.map(|t| t.platform.as_str()))
    .bind(tenant.map(|t| t.workspace.clone()))
    .bind(since.map(to_db))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(level, declared, acked, resolved)| {
            let declared_at = from_db(&declared)?;
            let since_declare = |at: Option<String>| -> anyhow::Result<Option<Duration>> {
                Ok(at
                    .as_deref()
                    .map(from_db)
                    .transpose()?
                    .map(|t| (t - declared_at).max(Duration::zero())))
            };
            Ok(Timing {
                severity: Severity::from_level(level)
                    .ok_or_else(|| anyhow::anyhow!("bad severity {level}"))?,
                declared_at,
                to_ack: since_declare(acked)?,
                to_resolve: since_declare(resolved)?,
            })
        })
        .collect()
}

/// A follow-up past its due date and not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverdueFollowup {
    pub tenant: Tenant,
    pub number: i64,
    pub private: bool,
    pub item: i64,
    pub text: String,
    pub owner: Option<UserRef>,
    pub due: NaiveDate,
}

/// Open follow-ups whose due date is before `today`, oldest due first.
pub async fn overdue_followups(
    conn: &mut Conn,
    tenant: Option<&Tenant>,
    today: NaiveDate,
) -> anyhow::Result<Vec<OverdueFollowup>> {
    type Row = (
        String,
        String,
        i64,
        super::Flag,
        i64,
        String,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT i.platform, i.workspace, i.number, i.private, f.item, f.text, f.owner_id, \
         f.owner_name, f.due_date FROM followups f JOIN incidents i ON i.id = f.incident_id \
         WHERE f.done_at IS NULL AND f.due_date IS NOT NULL AND f.due_date < $1 \
         AND ($2 IS NULL OR i.platform = $2) AND ($3 IS NULL OR i.workspace = $3) \
         ORDER BY f.due_date, i.number, f.item",
    )
    .bind(today.format("%Y-%m-%d").to_string())
    .bind(tenant.map(|t| t.platform.as_str()))
    .bind(tenant.map(|t| t.workspace.clone()))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(platform, workspace, number, private, item, text, owner_id, owner_name, due)| {
                Ok(OverdueFollowup {
                    tenant: tenant_of(&platform, workspace)?,
                    number,
                    private: private.into(),
                    item,
                    text,
                    owner: owner_id.map(|id| UserRef {
                        id,
                        name: owner_name,
                    }),
                    due: NaiveDate::parse_from_str(&due, "%Y-%m-%d")?,
                })
            },
        )
        .collect()
}

/// A resolved incident whose postmortem is past due and not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverduePostmortem {
    pub tenant: Tenant,
    pub number: i64,
    pub private: bool,
    pub title: String,
    pub due: DateTime<Utc>,
}

/// Postmortems due before `now` and not marked done, oldest due first.
pub async fn overdue_postmortems(
    conn: &mut Conn,
    tenant: Option<&Tenant>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<OverduePostmortem>> {
    let rows: Vec<(String, String, i64, super::Flag, String, String)> = sqlx::query_as(
        "SELECT platform, workspace, number, private, title, postmortem_due_at FROM incidents \
         WHERE status = 'resolved' AND postmortem_done_at IS NULL \
         AND postmortem_due_at IS NOT NULL AND postmortem_due_at < $1 \
         AND ($2 IS NULL OR platform = $2) AND ($3 IS NULL OR workspace = $3) \
         ORDER BY postmortem_due_at, number",
    )
    .bind(to_db(now))
    .bind(tenant.map(|t| t.platform.as_str()))
    .bind(tenant.map(|t| t.workspace.clone()))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(platform, workspace, number, private, title, due)| {
            Ok(OverduePostmortem {
                tenant: tenant_of(&platform, workspace)?,
                number,
                private: private.into(),
                title,
                due: from_db(&due)?,
            })
        })
        .collect()
}

fn tenant_of(platform: &str, workspace: String) -> anyhow::Result<Tenant> {
    let platform = PlatformKind::parse(platform)
        .ok_or_else(|| anyhow::anyhow!("unknown platform {platform:?}"))?;
    Ok(Tenant::new(platform, workspace))
}

fn midnight(day: NaiveDate) -> String {
    to_db(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// Mean times of one group of incidents.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Means {
    /// Incidents declared.
    pub declared: usize,
    /// Mean time to acknowledge, in seconds, over those acknowledged.
    pub mtta: Option<f64>,
    /// Mean time to resolve, in seconds, over those resolved.
    pub mttr: Option<f64>,
}

impl Means {
    fn of<'a>(timings: impl Iterator<Item = &'a Timing> + Clone) -> Self {
        let mean = |xs: Vec<f64>| {
            #[expect(clippy::cast_precision_loss, reason = "a count of incidents")]
            let n = xs.len() as f64;
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / n)
        };
        let secs = |d: Duration| d.num_milliseconds() as f64 / 1000.0;
        Self {
            declared: timings.clone().count(),
            mtta: mean(timings.clone().filter_map(|t| t.to_ack.map(secs)).collect()),
            mttr: mean(timings.filter_map(|t| t.to_resolve.map(secs)).collect()),
        }
    }
}

/// The Monday (UTC) of the week a time falls in.
pub fn week_of(t: DateTime<Utc>) -> NaiveDate {
    let day = t.date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// MTTA and MTTR by severity, overall and per week (weeks start on Monday, UTC; a week with
/// no incident of a severity has no entry for it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub by_severity: BTreeMap<Severity, Means>,
    pub weeks: BTreeMap<NaiveDate, BTreeMap<Severity, Means>>,
}

impl Figures {
    pub fn of(timings: &[Timing]) -> Self {
        let mut figures = Self::default();
        for severity in Severity::ALL {
            let of_sev = timings.iter().filter(move |t| t.severity == severity);
            figures.by_severity.insert(severity, Means::of(of_sev));
        }
        let weeks: std::collections::BTreeSet<NaiveDate> =
            timings.iter().map(|t| week_of(t.declared_at)).collect();
        for week in weeks {
            let row = figures.weeks.entry(week).or_default();
            for severity in Severity::ALL {
                let group = timings
                    .iter()
                    .filter(move |t| t.severity == severity && week_of(t.declared_at) == week);
                if group.clone().next().is_some() {
                    row.insert(severity, Means::of(group));
                }
            }
        }
        figures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        from_db(s).expect("valid")
    }

    #[test]
    fn means_by_severity_and_week() {
        let t = |sev, declared: &str, ack: Option<i64>, res: Option<i64>| Timing {
            severity: sev,
            declared_at: at(declared),
            to_ack: ack.map(Duration::seconds),
            to_resolve: res.map(Duration::seconds),
        };
        let timings = [
            t(
                Severity::Sev1,
                "2026-11-23T09:00:00.000Z",
                Some(60),
                Some(3600),
            ),
            t(Severity::Sev1, "2026-11-25T09:00:00.000Z", Some(180), None),
            t(Severity::Sev2, "2026-11-30T09:00:00.000Z", None, None),
        ];
        let f = Figures::of(&timings);
        let sev1 = f.by_severity[&Severity::Sev1];
        assert_eq!(sev1.declared, 2);
        assert_eq!(sev1.mtta, Some(120.0));
        assert_eq!(sev1.mttr, Some(3600.0));
        assert_eq!(f.by_severity[&Severity::Sev3].declared, 0);
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        assert_eq!(week_of(at("2026-11-29T23:59:59.000Z")), monday);
        assert_eq!(f.weeks.len(), 2);
        assert_eq!(f.weeks[&monday].len(), 1);
        let next = NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
        assert_eq!(f.weeks[&next][&Severity::Sev2].mtta, None);
    }
}
