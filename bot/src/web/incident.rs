//! `GET /incidents/{n}`: one incident's record: the summary (severity, status, roles, ages), the
//! checklist, the timeline, follow-ups, runbook runs with their guardrail outcomes, and the
//! alerts that fired it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use klaxon_commands::Tenant;
use serde::{Deserialize, Serialize};

use super::access::{Asking, Viewer};
use super::view::{self, Row, Time, person};
use super::{PageResult, Refusal, WebState};
use crate::store::{self, Incident, pages, timeline::EntryKind};

/// `?workspace=slack:T123`, needed only when incident numbers repeat across workspaces.
#[derive(Debug, Default, Deserialize)]
pub struct Where {
    #[serde(default)]
    pub workspace: String,
    /// A postmortem version (the postmortem pages only).
    #[serde(default)]
    pub version: Option<String>,
}

/// The incident that `number` names for this viewer, or why it is not shown.
pub async fn find(
    conn: &mut crate::store::Conn,
    viewer: &Viewer,
    number: &str,
    place: &Where,
) -> Result<Incident, Refusal> {
    let digits = number
        .strip_prefix("INC-")
        .or_else(|| number.strip_prefix("inc-"))
        .unwrap_or(number);
    let number: i64 = digits
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(Refusal::NotFound)?;
    let wanted = match place.workspace.trim() {
        "" => None,
        w => {
            let (platform, workspace) = w.split_once(':').ok_or_else(|| {
                Refusal::BadInput("workspace must look like slack:T123".to_owned())
            })?;
            let platform = klaxon_commands::PlatformKind::parse(platform)
                .ok_or_else(|| Refusal::BadInput("unknown platform in workspace".to_owned()))?;
            Some(Tenant::new(platform, workspace))
        }
    };
    let tenant = wanted.as_ref().or(viewer.tenant.as_ref());
    let mut found: Vec<Incident> = pages::by_number(conn, tenant, number)
        .await?
        .into_iter()
        .filter(|i| viewer.in_scope(&i.tenant))
        .collect();
    match found.len() {
        0 => Err(Refusal::NotFound),
        1 => {
            let incident = found.remove(0);
            if viewer.sees(&incident) {
                Ok(incident)
            } else {
                Err(Refusal::Private)
            }
        }
        _ => Err(Refusal::BadInput(format!(
            "INC-{number} exists in several workspaces: open it from the list"
        ))),
    }
}

#[derive(Serialize)]
struct Entry {
    at: Time,
    actor: String,
    kind: String,
    text: String,
    link: Option<String>,
}

#[derive(Serialize)]
struct Check {
    item: i64,
    text: String,
    done: Option<(String, Time)>,
    due: Option<Time>,
}

#[derive(Serialize)]
struct Followup {
    item: i64,
    text: String,
    owner: String,
    due: String,
    done: Option<(String, Time)>,
}

#[derive(Serialize)]
struct Run {
    action: String,
    requested_by: String,
    requested_at: Time,
    state: String,
    confirmed_by: String,
    http_status: Option<i64>,
    outcome: String,
}

#[derive(Serialize)]
struct Alert {
    source: String,
    title: String,
    severity: String,
    firing: bool,
    fired: i64,
    first_seen: Time,
    last_seen: Time,
    link: Option<String>,
}

#[derive(Serialize)]
struct Page {
    viewer: String,
    row: Row,
    roles: Vec<(String, String)>,
    declared_by: String,
    acknowledged: Option<(String, Time)>,
    resolved: Option<Time>,
    resolution: String,
    last_update: Option<(Time, String)>,
    refs: Vec<String>,
    runbook: Option<String>,
    postmortem_due: Option<Time>,
    postmortem_done: Option<Time>,
    postmortem_href: String,
    checklist: Vec<Check>,
    timeline: Vec<Entry>,
    followups: Vec<Followup>,
    runs: Vec<Run>,
    guardrails: Vec<Entry>,
    alerts: Vec<Alert>,
    many_tenants: bool,
    now: Time,
}

pub async fn page(
    State(state): State<Arc<WebState>>,
    asking: Asking,
    Path(number): Path<String>,
    Query(place): Query<Where>,
) -> PageResult {
    let viewer = state.viewer(&asking).await?;
    let mut conn = state.store.read().await?;
    let incident = find(&mut conn, &viewer, &number, &place).await?;
    let id = incident.id;
    let roles = store::incidents::roles(&mut conn, id).await?;
    let checklist = store::checklist::all(&mut conn, id).await?;
    let timeline = store::timeline::all(&mut conn, id).await?;
    let followups = store::postmortems::followups(&mut conn, id).await?;
    let runs = pages::runs(&mut conn, id).await?;
    let runbook = pages::runbook(&mut conn, id).await?;
    let alerts = store::alerts::of_incident(&mut conn, id).await?;
    let refs = store::postmortems::refs(&mut conn, id).await?;
    let (due, done) = store::postmortems::due_and_done(&mut conn, id).await?;
    let many_tenants = viewer.tenant.is_none() && pages::tenant_count(&mut conn).await? > 1;
    drop(conn);
    let now = state.clock.now();
    let ic = roles
        .iter()
        .find(|(r, _)| *r == klaxon_commands::Role::Ic)
        .map(|(_, u)| u);
    let entries: Vec<Entry> = timeline
        .iter()
        .map(|e| {
            let captured = match &e.kind {
                EntryKind::Captured { permalink, .. } => permalink.as_deref(),
                _ => None,
            };
            Entry {
                at: Time::of(e.at),
                actor: person(Some(&e.actor)),
                kind: e.kind.word().to_owned(),
                text: e.text.clone(),
                link: view::safe_link(captured)
                    .or_else(|| view::message_link(&incident, e.message_ref.as_deref())),
            }
        })
        .collect();
    let guardrails = timeline
        .iter()
        .filter(|e| e.kind == EntryKind::Action)
        .map(|e| Entry {
            at: Time::of(e.at),
            actor: person(Some(&e.actor)),
            kind: e.kind.word().to_owned(),
            text: e.text.clone(),
            link: None,
        })
        .collect();
    let page = Page {
        viewer: viewer.name.clone(),
        row: Row::of(&incident, ic, &viewer, now, many_tenants),
        roles: view::roles(&roles),
        declared_by: person(Some(&incident.declared_by)),
        acknowledged: incident
            .acknowledged
            .as_ref()
            .map(|(u, at)| (person(Some(u)), Time::of(*at))),
        resolved: incident.resolved_at.map(Time::of),
        resolution: incident.resolution.clone().unwrap_or_default(),
        last_update: incident
            .last_update
            .as_ref()
            .map(|(at, text)| (Time::of(*at), text.clone())),
        refs,
        runbook,
        postmortem_due: due.map(Time::of),
        postmortem_done: done.map(Time::of),
        postmortem_href: view::href(&incident, many_tenants, "/postmortem"),
        checklist: checklist
            .into_iter()
            .map(|c| Check {
                item: c.item,
                text: c.text,
                done: c.done.map(|(u, at)| (person(Some(&u)), Time::of(at))),
                due: c.due_at.map(Time::of),
            })
            .collect(),
        timeline: entries,
        followups: followups
            .into_iter()
            .map(|f| Followup {
                item: f.item,
                text: f.text,
                owner: person(f.owner.as_ref()),
                due: f
                    .due
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
                done: f.done.map(|(u, at)| (person(Some(&u)), Time::of(at))),
            })
            .collect(),
        runs: runs
            .into_iter()
            .map(|r| Run {
                action: r.action,
                requested_by: person(Some(&r.requested_by)),
                requested_at: Time::of(r.requested_at),
                state: r.state,
                confirmed_by: r.confirmed_by.map(|c| format!("@{c}")).unwrap_or_default(),
                http_status: r.http_status,
                outcome: r.outcome.unwrap_or_default(),
            })
            .collect(),
        guardrails,
        alerts: alerts
            .into_iter()
            .map(|a| Alert {
                source: a.source,
                title: a.title,
                severity: a.severity.to_string(),
                firing: a.firing,
                fired: a.fired,
                first_seen: Time::of(a.first_seen),
                last_seen: Time::of(a.last_seen),
                link: view::safe_link(a.link.as_deref()),
            })
            .collect(),
        many_tenants,
        now: Time::of(now),
    };
    Ok(state.page("incident.html", page))
}
