//! `[web]`: the read-only pages (`/incidents`, `/insights`), off unless enabled.

use serde::Deserialize;

/// `[web]`: whether the pages are served by `klaxon run`, and how people sign in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// Serve the pages on the HTTP endpoint. The console serves them on 127.0.0.1 regardless.
    pub enabled: bool,
    /// The header an authenticating proxy in front of Klaxon sets to the signed-in person's
    /// name (e.g. `X-Forwarded-User`). Set it only when every request passes that proxy, which
    /// must drop the header from what clients send.
    #[serde(deserialize_with = "header_name")]
    pub trusted_header: Option<String>,
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
