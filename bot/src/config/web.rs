//! `[web]`: the read-only pages (`/incidents`, `/insights`), off unless enabled.

use klaxon_commands::Duration;
use serde::Deserialize;

/// `[web]`: whether the pages are served by `klaxon run`, and how people sign in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the pages on the HTTP endpoint. The console serves them on 127.0.0.1 regardless.
    pub enabled: bool,
    /// The header an authenticating proxy in front of Klaxon sets to the signed-in person's
    /// name (e.g. `X-Forwarded-User`). The proxy must drop the header from what clients send.
    #[serde(deserialize_with = "header_name")]
    pub trusted_header: Option<String>,
    /// The addresses the proxy connects to Klaxon from (`["10.0.0.5", "10.1.0.0/16"]`): the
    /// trusted header is believed only on a connection from one of them. Required with
    /// `trusted_header`.
    pub trusted_proxies: Vec<ProxyNet>,
    /// Where people open the pages (`https://klaxon.example.com`): `/inc web` links point
    /// there, and the session cookie is `Secure` when it is https.
    #[serde(deserialize_with = "public_url")]
    pub public_url: Option<url::Url>,
    /// How long a sign-in link from `/inc web` works (once).
    pub link_lifetime: Duration,
    /// How long a session lasts after signing in.
    pub session_lifetime: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            trusted_header: None,
            trusted_proxies: Vec::new(),
            public_url: None,
            link_lifetime: Duration::from_secs(10 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
        }
    }
}

impl WebConfig {
    /// What the keys cannot check alone: a trusted header needs the proxies it comes from.
    pub fn check(&self) -> anyhow::Result<()> {
        match (
            self.trusted_header.is_some(),
            self.trusted_proxies.is_empty(),
        ) {
            (true, true) => anyhow::bail!(
                "web.trusted_header needs web.trusted_proxies, the addresses your authenticating \
                 proxy connects from (like [\"10.0.0.5\"] or [\"10.1.0.0/16\"]): without them \
                 anyone who can reach Klaxon could name themselves in that header"
            ),
            (false, false) => anyhow::bail!(
                "web.trusted_proxies is set without web.trusted_header: set the header your \
                 proxy puts the user's name in, or remove trusted_proxies"
            ),
            _ => Ok(()),
        }
    }
}

/// One entry of `[web] trusted_proxies`: a network (`10.1.0.0/16`, `fd00::/8`) or one address
/// (`10.0.0.5`, read as `/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet(pub ipnet::IpNet);

impl<'de> Deserialize<'de> for ProxyNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let text = raw.trim();
        text.parse::<ipnet::IpNet>()
            .map(|n| n.trunc())
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(Self)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "web.trusted_proxies takes addresses or networks like \"10.0.0.5\" or \"10.1.0.0/16\", not {raw:?}"
                ))
            })
    }
}

fn public_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<url::Url>, D::Error> {
    let raw = String::deserialize(d)?;
    let url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "web.public_url must be an http or https address like https://klaxon.example.com, not {raw:?}"
            ))
        })?;
    Ok(Some(url))
}

fn header_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(d)?;
    axum::http::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        serde::de::Error::custom(format!(
            "web.trusted_header must be an HTTP header name like X-Forwarded-User, not {name:?}"
        ))
    })?;
    Ok(Some(name.trim().to_owned()))
}
