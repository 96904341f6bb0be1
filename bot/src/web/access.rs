//! Who is looking at the pages, and what they may see.
//!
//! A viewer comes from one of: a configured trusted header set by an authenticating proxy in
//! front of Klaxon, believed only on a connection from one of the configured proxies' addresses
//! (`[web] trusted_proxies`); a session cookie from a `/inc web` link (the session's workspace only); or
//! the console (every request, since the console serves the pages on 127.0.0.1 only). Anyone
//! else is asked to sign in. A private incident is listed without its title or
//! channel, and its pages open only for a viewer granted that incident.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, header};
use chrono::{DateTime, Utc};
use klaxon_commands::Tenant;

use super::Refusal;
use crate::store::{Incident, Store};

/// The session cookie's name.
pub const COOKIE: &str = "klaxon_session";

/// Sign-in by `/inc web` links and session cookies.
#[derive(Debug, Clone)]
pub struct Sessions {
    /// How long a session lasts.
    pub lifetime: std::time::Duration,
    /// Whether the cookie is `Secure` (the pages are reached over https).
    pub secure: bool,
}

/// How the pages decide who is looking.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// The console's pages on 127.0.0.1: everyone who can connect is the console's user.
    pub open: bool,
    /// `[web] trusted_header` and `trusted_proxies`: the header an authenticating proxy sets
    /// to the user's name, and the addresses it connects from.
    pub trusted: Option<Trusted>,
    /// `/inc web` links and session cookies (on with `[web] enabled`).
    pub sessions: Option<Sessions>,
}

/// An authenticating proxy's header, believed only from the proxy's addresses.
#[derive(Debug, Clone)]
pub struct Trusted {
    pub header: HeaderName,
    /// The networks the proxy connects from; a request from anywhere else has its header
    /// ignored.
    pub proxies: Vec<ipnet::IpNet>,
}

impl Trusted {
    /// Whether a connection from `peer` may name its user with the header. Without a known
    /// peer address (a server started without connection info), never.
    pub fn believes(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| {
            let ip = ip.to_canonical();
            self.proxies.iter().any(|net| net.contains(&ip))
        })
    }
}

/// What a page knows of who is asking: the request's headers and the address it came from.
#[derive(Debug, Clone, Default)]
pub struct Asking {
    pub headers: HeaderMap,
    /// The connection's peer (axum's `ConnectInfo`), when the server records it.
    pub peer: Option<IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Asking {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            headers: parts.headers.clone(),
            peer: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        })
    }
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
            sessions: config.enabled.then(|| Sessions {
                lifetime: config.session_lifetime.as_std(),
                secure: config
                    .public_url
                    .as_ref()
                    .is_some_and(|u| u.scheme() == "https"),
            }),
            // The configuration refuses a header without proxies (and proxies without one).
            trusted: config
                .trusted_header
                .as_deref()
                .and_then(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .filter(|_| !config.trusted_proxies.is_empty())
                .map(|header| Trusted {
                    header,
                    proxies: config.trusted_proxies.iter().map(|p| p.0).collect(),
                }),
        }
    }

    /// Who is asking, or [`Refusal::SignIn`].
    pub async fn viewer(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        asking: &Asking,
    ) -> Result<Viewer, Refusal> {
        let headers = &asking.headers;
        if let Some(trusted) = &self.trusted
            && trusted.believes(asking.peer)
            && let Some(user) = headers.get(&trusted.header).and_then(|v| v.to_str().ok())
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
        if self.sessions.is_some()
            && let Some(token) = session_cookie(headers)
        {
            let mut conn = store.read().await?;
            if let Some(holder) = crate::store::web::session(&mut conn, &token, now).await? {
                return Ok(Viewer {
                    name: format!("@{}", holder.user.label()),
                    tenant: Some(holder.tenant),
                    grants: holder.grants.into_iter().collect(),
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

/// The session token in the request's cookies, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}
