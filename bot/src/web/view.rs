//! What the templates are given: records turned into plain, serialisable values, with a
//! private incident's title and channel already left out for a viewer not granted it.

use chrono::{DateTime, Utc};
use klaxon_commands::{PlatformKind, Role, Tenant, UserRef};
use serde::Serialize;

use super::access::Viewer;
use crate::engine::render::age;
use crate::store::Incident;

/// A time as the pages show it: UTC, labelled, with the machine-readable instant beside it for
/// the browser to add the viewer's local time.
#[derive(Debug, Clone, Serialize)]
pub struct Time {
    /// `2026-11-23 09:00:00 UTC`.
    pub utc: String,
    /// `2026-11-23T09:00:00Z`.
    pub iso: String,
}

impl Time {
    pub fn of(t: DateTime<Utc>) -> Self {
        Self {
            utc: crate::clock::long(t),
            iso: t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// `@alice`, or an empty string for nobody.
pub fn person(user: Option<&UserRef>) -> String {
    user.map(|u| format!("@{}", u.label())).unwrap_or_default()
}

/// One incident as a row of the list (and the head of its own page).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: String,
    /// The incident's page, with the workspace in the query when numbers repeat across
    /// workspaces.
    pub href: String,
    pub severity: String,
    pub status: String,
    pub open: bool,
    pub private: bool,
    /// Empty for a private incident the viewer is not granted.
    pub title: String,
    pub channel: String,
    /// Whether the viewer may open its pages.
    pub visible: bool,
    pub workspace: String,
    pub ic: String,
    pub declared: Time,
    pub age: String,
    pub to_ack: String,
    pub to_resolve: String,
}

impl Row {
    pub fn of(
        incident: &Incident,
        ic: Option<&UserRef>,
        viewer: &Viewer,
        now: DateTime<Utc>,
        many_tenants: bool,
    ) -> Self {
        let visible = viewer.sees(incident);
        let end = incident.resolved_at.unwrap_or(now);
        Self {
            key: incident.key(),
            href: href(incident, many_tenants, ""),
            severity: incident.severity.to_string(),
            status: incident.status.as_str().to_owned(),
            open: incident.is_open(),
            private: incident.private,
            title: if visible {
                incident.title.clone()
            } else {
                String::new()
            },
            channel: if visible {
                format!("#{}", incident.channel_name)
            } else {
                String::new()
            },
            visible,
            workspace: workspace(&incident.tenant),
            ic: person(ic),
            declared: Time::of(incident.declared_at),
            age: age(incident.declared_at, end),
            to_ack: incident
                .acknowledged
                .as_ref()
                .map(|(_, at)| age(incident.declared_at, *at))
                .unwrap_or_default(),
            to_resolve: incident
                .resolved_at
                .map(|at| age(incident.declared_at, at))
                .unwrap_or_default(),
        }
    }
}

/// `slack:T123`.
pub fn workspace(tenant: &Tenant) -> String {
    format!("{}:{}", tenant.platform, tenant.workspace)
}

/// An incident's page (`suffix` like `/postmortem`), naming the workspace when needed.
pub fn href(incident: &Incident, many_tenants: bool, suffix: &str) -> String {
    href_of(&incident.tenant, incident.number, many_tenants, suffix)
}

/// The page of incident `number` of `tenant`, with `?workspace=` when numbers repeat across
/// workspaces (the viewer sees more than one).
pub fn href_of(tenant: &Tenant, number: i64, many_tenants: bool, suffix: &str) -> String {
    let base = format!("/incidents/{number}{suffix}");
    if many_tenants {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("workspace", &workspace(tenant))
            .finish();
        format!("{base}?{query}")
    } else {
        base
    }
}

/// The incident's roles as (role, person) pairs, in role order.
pub fn roles(roles: &[(Role, UserRef)]) -> Vec<(String, String)> {
    roles
        .iter()
        .map(|(role, user)| (role.as_str().to_owned(), person(Some(user))))
        .collect()
}

/// A link to a message Klaxon posted, on the platform, where one can be made: Discord's
/// message links (`https://discord.com/channels/<guild>/<channel>/<message>`); Slack's
/// documented redirect opens the channel (`https://slack.com/app_redirect?team=…&channel=…`),
/// since a message's own permalink needs `chat.getPermalink`.
pub fn message_link(incident: &Incident, message_ref: Option<&str>) -> Option<String> {
    let message = message_ref?;
    let channel = incident.channel_id.as_deref()?;
    match incident.tenant.platform {
        PlatformKind::Discord => Some(format!(
            "https://discord.com/channels/{}/{channel}/{message}",
            incident.tenant.workspace
        )),
        PlatformKind::Slack => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("team", &incident.tenant.workspace)
                .append_pair("channel", channel)
                .finish();
            Some(format!("https://slack.com/app_redirect?{query}"))
        }
        PlatformKind::Console => None,
    }
}

/// Only `http:` and `https:` links are shown as links (an alert's or a capture's link comes
/// from outside).
pub fn safe_link(link: Option<&str>) -> Option<String> {
    let link = link?;
    let parsed = url::Url::parse(link).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}
