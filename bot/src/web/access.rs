//! Who is looking at the pages, and what they may see.
//!
//! A viewer comes from one of: the console (every request, since the console serves the pages
//! on 127.0.0.1 only), or a configured trusted header set by an authenticating proxy in front of
//! Klaxon. Anyone else is asked to sign in. A private incident is listed without its title or
//! channel, and its pages open only for a viewer granted that incident.

use std::collections::BTreeSet;

use axum::http::{HeaderMap, HeaderName};
use klaxon_commands::Tenant;

use super::Refusal;
use crate::store::Incident;

/// How the pages decide who is looking.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The console's pages on 127.0.0.1: everyone who can connect is the console's user.
    pub open: bool,
    /// `[web] trusted_header`: the header an authenticating proxy sets to the user's name.
    pub trusted_header: Option<HeaderName>,
}

/// Someone allowed to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Who, for the page's corner.
    pub name: String,
    /// The one workspace they may look at; `None`: every one.
    pub tenant: Option<Tenant>,
    /// The private incidents (by id) whose pages they may open.
    pub grants: BTreeSet<i64>,
}

impl Viewer {
    /// Whether they may see this incident's title, channel and pages.
    pub fn sees(&self, incident: &Incident) -> bool {
        self.in_scope(&incident.tenant) && (!incident.private || self.grants.contains(&incident.id))
    }

    /// Whether the incident's workspace is one they may look at.
    pub fn in_scope(&self, tenant: &Tenant) -> bool {
        self.tenant.as_ref().is_none_or(|t| t == tenant)
    }
}

/// The longest name a trusted header may carry.
const MAX_NAME: usize = 200;

impl Access {
    /// `klaxon run`'s access, from `[web]`.
    pub fn configured(config: &crate::config::WebConfig) -> Self {
        Self {
            open: false,
            trusted_header: config
                .trusted_header
                .as_deref()
                .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok()),
        }
    }

    /// Who is asking, or [`Refusal::SignIn`].
    pub fn viewer(&self, headers: &HeaderMap) -> Result<Viewer, Refusal> {
        if let Some(name) = &self.trusted_header
            && let Some(user) = headers.get(name).and_then(|v| v.to_str().ok())
        {
            let user = user.trim();
            if !user.is_empty()
                && user.chars().count() <= MAX_NAME
                && !user.chars().any(char::is_control)
            {
                return Ok(Viewer {
                    name: user.to_owned(),
                    tenant: None,
                    grants: BTreeSet::new(),
                });
            }
        }
        if self.open {
            return Ok(Viewer {
                name: "console".to_owned(),
                tenant: None,
                grants: BTreeSet::new(),
            });
        }
        Err(Refusal::SignIn)
    }
}
