//! `GET /incidents/{n}/postmortem[?version=V]`: a stored postmortem draft rendered (the latest
//! by default; the Mermaid phase diagram drawn by the vendored script), earlier versions
//! listed; `GET /incidents/{n}/postmortem.md[?version=V]`: the same draft's Markdown as a
//! download.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse as _;
use serde::Serialize;

use super::access::Asking;
use super::incident::{Where, find};
use super::view::{self, Row, Time, person};
use super::{PageResult, Refusal, WebState};
use crate::store::{self, pages};

#[derive(Serialize)]
struct Version {
    version: i64,
    at: Time,
    by: String,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct Page {
    viewer: String,
    row: Row,
    incident_href: String,
    draft: Option<Draft>,
    versions: Vec<Version>,
    mermaid: &'static str,
    now: Time,
}

#[derive(Serialize)]
struct Draft {
    version: i64,
    at: Time,
    by: String,
    html: minijinja::Value,
    download: String,
}

fn version(place: &Where) -> Result<Option<i64>, Refusal> {
    match place.version.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| Refusal::BadInput("version must be a number like 2".to_owned())),
    }
}

/// `href` with `version=V` added to its query.
fn with_version(href: &str, v: i64) -> String {
    let sep = if href.contains('?') { '&' } else { '?' };
    format!("{href}{sep}version={v}")
}

pub async fn page(
    State(state): State<Arc<WebState>>,
    asking: Asking,
    Path(number): Path<String>,
    Query(place): Query<Where>,
) -> PageResult {
    let viewer = state.viewer(&asking).await?;
    let wanted = version(&place)?;
    let mut conn = state.store.read().await?;
    let incident = find(&mut conn, &viewer, &number, &place).await?;
    let draft = store::postmortems::get(&mut conn, incident.id, wanted).await?;
    if wanted.is_some() && draft.is_none() {
        return Err(Refusal::NotFound);
    }
    let versions = pages::postmortem_versions(&mut conn, incident.id).await?;
    let roles = store::incidents::roles(&mut conn, incident.id).await?;
    let many_tenants = viewer.tenant.is_none() && pages::tenant_count(&mut conn).await? > 1;
    drop(conn);
    let now = state.clock.now();
    let ic = roles
        .iter()
        .find(|(r, _)| *r == klaxon_commands::Role::Ic)
        .map(|(_, u)| u);
    let base = view::href(&incident, many_tenants, "/postmortem");
    let download = view::href(&incident, many_tenants, "/postmortem.md");
    let current = draft.as_ref().map(|d| d.version);
    let page = Page {
        viewer: viewer.name.clone(),
        row: Row::of(&incident, ic, &viewer, now, many_tenants),
        incident_href: view::href(&incident, many_tenants, ""),
        draft: draft.map(|d| Draft {
            version: d.version,
            at: Time::of(d.created_at),
            by: person(Some(&d.created_by)),
            html: minijinja::Value::from_safe_string(super::markdown::to_html(&d.markdown)),
            download: with_version(&download, d.version),
        }),
        versions: versions
            .into_iter()
            .map(|(v, at, by)| Version {
                version: v,
                at: Time::of(at),
                by: person(Some(&by)),
                href: with_version(&base, v),
                current: Some(v) == current,
            })
            .collect(),
        mermaid: super::MERMAID,
        now: Time::of(now),
    };
    let mut response = state.page("postmortem.html", page);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(super::CSP_DIAGRAM),
    );
    Ok(response)
}

pub async fn download(
    State(state): State<Arc<WebState>>,
    asking: Asking,
    Path(number): Path<String>,
    Query(place): Query<Where>,
) -> PageResult {
    let viewer = state.viewer(&asking).await?;
    let wanted = version(&place)?;
    let mut conn = state.store.read().await?;
    let incident = find(&mut conn, &viewer, &number, &place).await?;
    let draft = store::postmortems::get(&mut conn, incident.id, wanted)
        .await?
        .ok_or(Refusal::NotFound)?;
    drop(conn);
    let name = format!("{}-postmortem-v{}.md", incident.key(), draft.version);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        draft.markdown,
    )
        .into_response())
}
