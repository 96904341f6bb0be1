//! `GET /insights[?weeks=12]`: MTTA and MTTR by severity per week (SVG charts drawn here, at
//! `/insights/mtta.svg` and `/insights/mttr.svg`), counts by severity, and the follow-ups and
//! postmortems that are overdue.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use klaxon_commands::{Severity, Tenant};
use serde::{Deserialize, Serialize};

use super::access::Asking;
use super::charts::{self, Series};
use super::view::{Time, href_of, person, workspace};
use super::{PageResult, Refusal, WebState};
use crate::store::pages::{self, Figures, Means, week_of};

/// `?weeks=N`: how many weeks back, this one included (1 to 104; 12 by default).
#[derive(Debug, Default, Deserialize)]
pub struct Window {
    #[serde(default)]
    pub weeks: Option<String>,
}

impl Window {
    fn weeks(&self) -> Result<i64, Refusal> {
        match self.weeks.as_deref().map(str::trim) {
            None | Some("") => Ok(12),
            Some(w) => w
                .parse::<i64>()
                .ok()
                .filter(|w| (1..=104).contains(w))
                .ok_or_else(|| Refusal::BadInput("weeks must be from 1 to 104".to_owned())),
        }
    }
}

/// The Mondays of the window, oldest first, and the first instant in it.
fn window(now: DateTime<Utc>, weeks: i64) -> (Vec<NaiveDate>, DateTime<Utc>) {
    let this = week_of(now);
    let mondays: Vec<NaiveDate> = (0..weeks)
        .rev()
        .map(|back| this - Duration::weeks(back))
        .collect();
    let start = mondays[0].and_time(chrono::NaiveTime::MIN).and_utc();
    (mondays, start)
}

async fn figures(
    state: &WebState,
    tenant: Option<&Tenant>,
    weeks: i64,
) -> anyhow::Result<(Vec<NaiveDate>, Figures)> {
    let (mondays, start) = window(state.clock.now(), weeks);
    let mut conn = state.store.read().await?;
    let timings = pages::timings(&mut conn, tenant, Some(start)).await?;
    Ok((mondays, Figures::of(&timings)))
}

fn minutes(secs: Option<f64>) -> Option<f64> {
    secs.map(|s| (s / 60.0 * 10.0).round() / 10.0)
}

#[derive(Serialize)]
struct Count {
    severity: String,
    declared: usize,
    mtta: String,
    mttr: String,
}

#[derive(Serialize)]
struct Overdue {
    key: String,
    /// `slack:T123`, shown when the viewer sees more than one workspace.
    workspace: String,
    href: Option<String>,
    text: String,
    owner: String,
    due: String,
}

#[derive(Serialize)]
struct Page {
    viewer: String,
    weeks: i64,
    since: Time,
    counts: Vec<Count>,
    followups: Vec<Overdue>,
    postmortems: Vec<Overdue>,
    /// Whether the viewer sees several workspaces (incident numbers may repeat).
    many_tenants: bool,
    now: Time,
}

fn mean_text(secs: Option<f64>) -> String {
    secs.map(|s| klaxon_commands::values::human_secs(s.round().max(0.0) as u64))
        .unwrap_or_default()
}

pub async fn page(
    State(state): State<Arc<WebState>>,
    asking: Asking,
    Query(window_query): Query<Window>,
) -> PageResult {
    let viewer = state.viewer(&asking).await?;
    let weeks = window_query.weeks()?;
    let tenant = viewer.tenant.as_ref();
    let (mondays, figures) = figures(&state, tenant, weeks).await?;
    let now = state.clock.now();
    let mut conn = state.store.read().await?;
    let followups = pages::overdue_followups(&mut conn, tenant, now.date_naive()).await?;
    let postmortems = pages::overdue_postmortems(&mut conn, tenant, now).await?;
    let mut grants = std::collections::BTreeSet::new();
    for (t, n) in followups
        .iter()
        .filter(|f| f.private)
        .map(|f| (&f.tenant, f.number))
        .chain(
            postmortems
                .iter()
                .filter(|p| p.private)
                .map(|p| (&p.tenant, p.number)),
        )
    {
        if let Some(i) = crate::store::incidents::by_number(&mut conn, t, n).await?
            && viewer.sees(&i)
        {
            grants.insert((t.clone(), n));
        }
    }
    let many_tenants = viewer.tenant.is_none() && pages::tenant_count(&mut conn).await? > 1;
    drop(conn);
    let hidden = |private: bool, t: &Tenant, n: i64| private && !grants.contains(&(t.clone(), n));
    let page = Page {
        viewer: viewer.name.clone(),
        weeks,
        since: Time::of(mondays[0].and_time(chrono::NaiveTime::MIN).and_utc()),
        counts: Severity::ALL
            .iter()
            .map(|s| {
                let m: Means = figures.by_severity.get(s).copied().unwrap_or_default();
                Count {
                    severity: s.to_string(),
                    declared: m.declared,
                    mtta: mean_text(m.mtta),
                    mttr: mean_text(m.mttr),
                }
            })
            .collect(),
        followups: followups
            .iter()
            .map(|f| {
                let hide = hidden(f.private, &f.tenant, f.number);
                Overdue {
                    key: format!("INC-{}", f.number),
                    workspace: workspace(&f.tenant),
                    href: (!hide).then(|| href_of(&f.tenant, f.number, many_tenants, "")),
                    text: if hide {
                        String::new()
                    } else {
                        format!("{}. {}", f.item, f.text)
                    },
                    owner: person(f.owner.as_ref()),
                    due: f.due.format("%Y-%m-%d").to_string(),
                }
            })
            .collect(),
        postmortems: postmortems
            .iter()
            .map(|p| {
                let hide = hidden(p.private, &p.tenant, p.number);
                Overdue {
                    key: format!("INC-{}", p.number),
                    workspace: workspace(&p.tenant),
                    href: (!hide)
                        .then(|| href_of(&p.tenant, p.number, many_tenants, "/postmortem")),
                    text: if hide { String::new() } else { p.title.clone() },
                    owner: String::new(),
                    due: crate::clock::long(p.due),
                }
            })
            .collect(),
        many_tenants,
        now: Time::of(now),
    };
    Ok(state.page("insights.html", page))
}

/// `mtta.svg` or `mttr.svg`.
pub async fn chart(
    State(state): State<Arc<WebState>>,
    asking: Asking,
    Path(chart): Path<String>,
    Query(window_query): Query<Window>,
) -> PageResult {
    let viewer = state.viewer(&asking).await?;
    let weeks = window_query.weeks()?;
    let (title, pick): (&str, fn(&Means) -> Option<f64>) = match chart.as_str() {
        "mtta.svg" => ("Mean time to acknowledge, by severity", |m| m.mtta),
        "mttr.svg" => ("Mean time to resolve, by severity", |m| m.mttr),
        _ => return Err(Refusal::NotFound),
    };
    let (mondays, figures) = figures(&state, viewer.tenant.as_ref(), weeks).await?;
    let series: Vec<Series> = Severity::ALL
        .iter()
        .map(|s| Series {
            severity: *s,
            values: mondays
                .iter()
                .map(|w| {
                    minutes(
                        figures
                            .weeks
                            .get(w)
                            .and_then(|row| row.get(s))
                            .and_then(pick),
                    )
                })
                .collect(),
        })
        .collect();
    let svg = charts::weekly(title, &mondays, &series)?;
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}
