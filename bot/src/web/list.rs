//! `GET /incidents`: open incidents first, then recent ones, filtered by status, severity and
//! the day declared (`?status=open&severity=sev1&from=2026-11-01&to=2026-11-30`).

use std::sync::Arc;

use axum::extract::{Query, State};
use chrono::NaiveDate;
use klaxon_commands::{Role, Severity, Status};
use serde::{Deserialize, Serialize};

use super::access::Asking;
use super::view::Row;
use super::{PageResult, Refusal, WebState};
use crate::store::pages::{self, Filter, LIST_LIMIT, StatusFilter};

/// The list's query string, as typed.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Params {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

impl Params {
    /// The filter, or the reason it is not one.
    pub fn filter(&self) -> Result<Filter, Refusal> {
        let status = match self.status.trim() {
            "" | "any" => StatusFilter::Any,
            "open" => StatusFilter::Open,
            other => StatusFilter::Is(Status::parse(other).map_err(|_| {
                Refusal::BadInput(
                    "status must be open, triage, contained, recovering or resolved".to_owned(),
                )
            })?),
        };
        let severity = match self.severity.trim() {
            "" | "any" => None,
            other => Some(Severity::parse(other).map_err(|_| {
                Refusal::BadInput("severity must be sev1, sev2, sev3 or sev4".to_owned())
            })?),
        };
        let day = |raw: &str, what: &str| -> Result<Option<NaiveDate>, Refusal> {
            let raw = raw.trim();
            if raw.is_empty() {
                return Ok(None);
            }
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| Refusal::BadInput(format!("{what} must be a date like 2026-11-23")))
        };
        let from = day(&self.from, "from")?;
        let to = day(&self.to, "to")?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(Refusal::BadInput("from must not be after to".to_owned()));
        }
        Ok(Filter {
            tenant: None,
            status,
            severity,
            from,
            to,
        })
    }
}

#[derive(Serialize)]
struct Page {
    viewer: String,
    params: Params,
    rows: Vec<Row>,
    many_tenants: bool,
    limit: i64,
    now: super::view::Time,
    severities: Vec<String>,
}

pub async fn page(
    State(state): State<Arc<WebState>>,
    asking: Asking,
    Query(params): Query<Params>,
) -> PageResult {
    let viewer = state.viewer(&asking).await?;
    let mut filter = params.filter()?;
    filter.tenant.clone_from(&viewer.tenant);
    let mut conn = state.store.read().await?;
    let incidents = pages::list(&mut conn, &filter).await?;
    let many_tenants = viewer.tenant.is_none() && pages::tenant_count(&mut conn).await? > 1;
    let now = state.clock.now();
    let mut rows = Vec::with_capacity(incidents.len());
    for incident in &incidents {
        let roles = crate::store::incidents::roles(&mut conn, incident.id).await?;
        let ic = roles.iter().find(|(r, _)| *r == Role::Ic).map(|(_, u)| u);
        rows.push(Row::of(incident, ic, &viewer, now, many_tenants));
    }
    drop(conn);
    Ok(state.page(
        "incidents.html",
        Page {
            viewer: viewer.name,
            params,
            rows,
            many_tenants,
            limit: LIST_LIMIT,
            now: super::view::Time::of(now),
            severities: Severity::ALL.iter().map(ToString::to_string).collect(),
        },
    ))
}
