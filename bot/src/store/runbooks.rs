//! Runbooks attached to incidents, and the audit record of every action run.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::UserRef;

use crate::clock::{from_db, to_db};

/// Attaches a runbook (again: restarts its decision tree).
pub async fn start(
    conn: &mut Conn,
    incident_id: i64,
    runbook: &str,
    by: &UserRef,
    node: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    // Two replicas at once would both read the same highest number.
    crate::store::serialize(conn, &format!("runbook starts of incident {incident_id}")).await?;
    sqlx::query(
        "INSERT INTO incident_runbooks (incident_id, runbook_id, started_at, started_by_id, node, start_seq) \
         VALUES ($1, $2, $3, $4, $5, \
           (SELECT COALESCE(MAX(start_seq), 0) + 1 FROM incident_runbooks WHERE incident_id = $1)) \
         ON CONFLICT (incident_id, runbook_id) DO UPDATE SET \
         started_at = excluded.started_at, started_by_id = excluded.started_by_id, node = excluded.node, \
         start_seq = excluded.start_seq",
    )
    .bind(incident_id)
    .bind(runbook)
    .bind(to_db(at))
    .bind(&by.id)
    .bind(node)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The runbook started last on the incident, with its current node.
pub async fn current(
    conn: &mut Conn,
    incident_id: i64,
) -> anyhow::Result<Option<(String, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT runbook_id, node FROM incident_runbooks WHERE incident_id = $1 \
         ORDER BY started_at DESC, start_seq DESC LIMIT 1",
    )
    .bind(incident_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn set_node(
    conn: &mut Conn,
    incident_id: i64,
    runbook: &str,
    node: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE incident_runbooks SET node = $1 WHERE incident_id = $2 AND runbook_id = $3",
    )
    .bind(node)
    .bind(incident_id)
    .bind(runbook)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One attempt to run an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub action: String,
    /// The parameters as given, in order.
    pub params: Vec<(String, String)>,
    pub requested_by: UserRef,
    pub expires_at: Option<DateTime<Utc>>,
    pub state: String,
}

/// Records a run: `awaiting` with a code and expiry, or `running` at once.
#[expect(clippy::too_many_arguments, reason = "one row's columns")]
pub async fn add_run(
    conn: &mut Conn,
    incident_id: i64,
    action: &str,
    params: &[(String, String)],
    by: &UserRef,
    at: DateTime<Utc>,
    code: Option<&str>,
    expires_at: Option<DateTime<Utc>>,
) -> anyhow::Result<i64> {
    let state = if code.is_some() {
        "awaiting"
    } else {
        "running"
    };
    Ok(sqlx::query_scalar(
        "INSERT INTO action_runs (incident_id, action, params, requested_by_id, requested_by_name, \
         requested_at, code, expires_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(incident_id)
    .bind(action)
    .bind(serde_json::to_string(params)?)
    .bind(&by.id)
    .bind(&by.name)
    .bind(to_db(at))
    .bind(code)
    .bind(expires_at.map(to_db))
    .bind(state)
    .fetch_one(&mut *conn)
    .await?)
}

type RunRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
);

pub async fn by_code(conn: &mut Conn, incident_id: i64, code: &str) -> anyhow::Result<Option<Run>> {
    let row: Option<RunRow> = sqlx::query_as(
        "SELECT id, action, params, requested_by_id, requested_by_name, expires_at, state \
         FROM action_runs WHERE incident_id = $1 AND code = $2",
    )
    .bind(incident_id)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(id, action, params, by_id, by_name, expires, state)| {
        Ok(Run {
            id,
            action,
            params: serde_json::from_str(&params)?,
            requested_by: UserRef {
                id: by_id,
                name: by_name,
            },
            expires_at: expires.as_deref().map(from_db).transpose()?,
            state,
        })
    })
    .transpose()
}

/// Claims an awaiting run for sending: `false` when it was not awaiting any more (a double
/// click, a retry, a race), so the same confirmation never sends twice.
pub async fn claim(conn: &mut Conn, id: i64, by: &UserRef) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE action_runs SET state = 'running', confirmed_by_id = $1 WHERE id = $2 AND state = 'awaiting'",
    )
    .bind(&by.id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records how a run ended.
#[expect(clippy::too_many_arguments, reason = "one row's columns")]
pub async fn finish(
    conn: &mut Conn,
    id: i64,
    ok: bool,
    status: Option<u16>,
    request_id: Option<&str>,
    duration_ms: Option<u128>,
    outcome: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE action_runs SET state = $1, status = $2, request_id = $3, duration_ms = $4, \
         outcome = $5, finished_at = $6 WHERE id = $7 AND state IN ('awaiting', 'running')",
    )
    .bind(if ok { "done" } else { "failed" })
    .bind(status.map(i64::from))
    .bind(request_id)
    .bind(duration_ms.and_then(|d| i64::try_from(d).ok()))
    .bind(outcome)
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A run that was being sent when Klaxon stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    pub id: i64,
    pub incident_id: i64,
    pub action: String,
    pub params: Vec<(String, String)>,
    pub requested_by: UserRef,
}

/// Every run still `running`. Called at start-up, before any command, so each was cut off by
/// a stop of an earlier process.
pub async fn interrupted(conn: &mut Conn) -> anyhow::Result<Vec<Interrupted>> {
    let rows: Vec<(i64, i64, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, incident_id, action, params, requested_by_id, requested_by_name \
         FROM action_runs WHERE state = 'running' ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, incident_id, action, params, by_id, by_name)| {
            Ok(Interrupted {
                id,
                incident_id,
                action,
                params: serde_json::from_str(&params)?,
                requested_by: UserRef {
                    id: by_id,
                    name: by_name,
                },
            })
        })
        .collect()
}

/// Ends a run whose outcome nobody recorded: `unknown`, never sent again.
pub async fn mark_unknown(
    conn: &mut Conn,
    id: i64,
    outcome: &str,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE action_runs SET state = 'unknown', outcome = $1, finished_at = $2 \
         WHERE id = $3 AND state = 'running'",
    )
    .bind(outcome)
    .bind(to_db(at))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every run of an incident's actions, oldest first, with how it ended (for audits and tests).
pub async fn runs(
    conn: &mut Conn,
    incident_id: i64,
) -> anyhow::Result<Vec<(String, String, String, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT action, params, state, outcome FROM action_runs WHERE incident_id = $1 ORDER BY id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?)
}
