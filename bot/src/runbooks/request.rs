//! Turning a runbook action and its parameters into an HTTP request, behind its guardrails,
//! and sending it with reqwest.
//!
//! Everything that can refuse is checked before anything is sent: parameters (declared, typed,
//! matching their pattern), the URL (no dot-segments; host and port on the allow-list), the
//! body (JSON once rendered), the secrets (`KLAXON_SECRET_*` variables, never over plain http
//! unless the entry allows it), and, when it is sent, the addresses the host resolves to. A
//! refusal is a sentence for the user. Secrets are rendered only into the real request and are
//! marked sensitive there; previews, `Debug` and the audit trail see `••••••`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::allow::{self, AllowedHost, Resolve};
use super::template::{self, Part};
use super::{Action, ParamKind};

/// Where secrets come from: the environment in production, a map in tests. `name` is what a
/// header template says after `secret.`.
pub trait Secrets: Send + Sync {
    fn get(&self, name: &str) -> Option<SecretString>;
}

/// The only environment variables a runbook can read: `secret.PAY_TOKEN` is
/// `KLAXON_SECRET_PAY_TOKEN`, so no runbook can send `SLACK_BOT_TOKEN` or any other variable.
pub const SECRET_PREFIX: &str = "KLAXON_SECRET_";

/// Secrets from environment variables named [`SECRET_PREFIX`] + the name.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl EnvSecrets {
    /// The variable a secret name reads, or `None` for a name a runbook may not use.
    pub fn variable(name: &str) -> Option<String> {
        valid_secret_name(name).then(|| format!("{SECRET_PREFIX}{name}"))
    }
}

impl Secrets for EnvSecrets {
    fn get(&self, name: &str) -> Option<SecretString> {
        let var = Self::variable(name)?;
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
    }
}

/// `A-Z`, digits and `_`, starting with a letter, not already prefixed.
pub fn valid_secret_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(SECRET_PREFIX)
}

/// What previews show instead of a secret.
pub const MASK: &str = "••••••";

/// What a template may say about the incident.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentVars {
    pub key: String,
    pub severity: String,
    pub channel: String,
}

/// One header: the value sent (marked sensitive when it carries a secret) and the value shown.
#[derive(Clone)]
struct Header {
    /// As the runbook wrote it, for previews.
    written: String,
    name: HeaderName,
    value: HeaderValue,
    shown: String,
}

/// One request, rendered for real and for people (secrets masked). Its `Debug` shows only the
/// masked form.
#[derive(Clone)]
pub struct Rendered {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    headers: Vec<Header>,
    pub body: Option<String>,
    /// The allow-list entry that lets it go out (its address rules apply when it is sent).
    allowed: AllowedHost,
}

impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|h| (h.name.as_str(), h.shown.as_str()))
                    .collect::<Vec<_>>(),
            )
            .field("body", &self.body)
            .field("allowed", &self.allowed)
            .finish()
    }
}

impl Rendered {
    /// The request as people read it: method, URL, headers (secrets masked), body.
    pub fn preview(&self) -> String {
        let mut out = format!("{} {}", self.method, self.url);
        for h in &self.headers {
            out.push_str(&format!("\n{}: {}", h.written, h.shown));
        }
        if let Some(b) = &self.body {
            out.push_str(&format!("\n\n{b}"));
        }
        out
    }
}

/// An action ready to send: its preconditions, then the request.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub checks: Vec<(String, Rendered, Option<u16>)>,
    pub request: Rendered,
    pub timeout: Duration,
    pub request_id_header: String,
}

impl Prepared {
    pub fn preview(&self) -> String {
        let mut out = String::new();
        for (name, check, status) in &self.checks {
            let expect = status.map_or_else(|| "2xx".to_owned(), |s| s.to_string());
            out.push_str(&format!(
                "Precondition \"{name}\" (expects {expect}): {} {}\n",
                check.method, check.url
            ));
        }
        out.push_str(&self.request.preview());
        out
    }
}
/// Checks the given `name=value` pairs against the action's parameters.
pub fn params(
    action: &Action,
    given: &[(String, String)],
) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    for (name, value) in given {
        let Some(p) = action.params.get(name) else {
            let known: Vec<&str> = action.params.keys().map(String::as_str).collect();
            return Err(if known.is_empty() {
                format!(
                    "`{}` takes no parameters; `{name}` is not one.",
                    action.name
                )
            } else {
                format!(
                    "`{name}` is not a parameter of `{}` (it takes {}).",
                    action.name,
                    known.join(", ")
                )
            });
        };
        let bad = |why: &str| format!("`{name}={value}` {why}.");
        let v = match &p.kind {
            ParamKind::Text => Value::String(value.clone()),
            ParamKind::Word => {
                if value.is_empty() || value.chars().any(char::is_whitespace) {
                    return Err(bad("must be one word"));
                }
                Value::String(value.clone())
            }
            ParamKind::Int { min, max } => {
                let n: i64 = value.parse().map_err(|_| bad("must be a whole number"))?;
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    return Err(bad(&format!(
                        "must be between {} and {}",
                        min.map_or_else(|| "any".to_owned(), |m| m.to_string()),
                        max.map_or_else(|| "any".to_owned(), |m| m.to_string())
                    )));
                }
                Value::from(n)
            }
            ParamKind::Enum(values) => {
                if !values.contains(value) {
                    return Err(bad(&format!("must be one of {}", values.join(", "))));
                }
                Value::String(value.clone())
            }
        };
        if let Some(re) = &p.pattern
            && !re.is_match(value)
        {
            return Err(bad(&format!(
                "does not match the pattern {}",
                re.as_str()
                    .trim_start_matches("^(?:")
                    .trim_end_matches(")$")
            )));
        }
        if p.required && value.trim().is_empty() {
            return Err(bad("must not be empty"));
        }
        out.insert(name.clone(), v);
    }
    for (name, p) in &action.params {
        if p.required && !out.contains_key(name) {
            let help = p
                .help
                .as_deref()
                .map_or_else(String::new, |h| format!(" ({h})"));
            return Err(format!("`{}` needs `{name}=…`{help}.", action.name));
        }
    }
    Ok(out)
}

/// Renders the action's preconditions and request, checking hosts and secrets.
pub fn prepare(
    action: &Action,
    params: &BTreeMap<String, Value>,
    incident: &IncidentVars,
    allowed_hosts: &[AllowedHost],
    secrets: &dyn Secrets,
) -> Result<Prepared, String> {
    let env = template::env();
    let r = Renderer {
        env: &env,
        params,
        incident,
        allowed_hosts,
        secrets,
    };
    let mut checks = Vec::new();
    for pc in &action.preconditions {
        let rendered = r.render(&pc.method, &pc.url, None, &pc.headers)?;
        checks.push((pc.name.clone(), rendered, pc.expect_status));
    }
    let request = r.render(
        &action.method,
        &action.url,
        action.body.as_deref(),
        &action.headers,
    )?;
    Ok(Prepared {
        checks,
        request,
        timeout: action.timeout,
        request_id_header: action.request_id_header.clone(),
    })
}

/// What every part of an action renders with.
struct Renderer<'a> {
    env: &'a minijinja::Environment<'static>,
    params: &'a BTreeMap<String, Value>,
    incident: &'a IncidentVars,
    allowed_hosts: &'a [AllowedHost],
    secrets: &'a dyn Secrets,
}

impl Renderer<'_> {
    fn context(&self, secret: &BTreeMap<String, String>) -> BTreeMap<String, Value> {
        let mut ctx: BTreeMap<String, Value> = self.params.clone();
        ctx.insert(
            "incident".into(),
            serde_json::to_value(self.incident).unwrap_or(Value::Null),
        );
        ctx.insert(
            "secret".into(),
            serde_json::to_value(secret).unwrap_or(Value::Null),
        );
        ctx
    }

    fn render(
        &self,
        method: &reqwest::Method,
        url: &str,
        body: Option<&str>,
        headers: &BTreeMap<String, String>,
    ) -> Result<Rendered, String> {
        // Secrets used by the headers, read now: a missing one refuses the action.
        let mut names = BTreeSet::new();
        for h in headers.values() {
            if let Ok(t) = self.env.template_from_str(h) {
                names.extend(
                    t.undeclared_variables(true)
                        .into_iter()
                        .filter_map(|v| v.strip_prefix("secret.").map(str::to_owned)),
                );
            }
        }
        let mut real = BTreeMap::new();
        let mut masked = BTreeMap::new();
        for name in &names {
            let value = self.secrets.get(name).ok_or_else(|| {
                format!(
                    "the secret {name} is not set in Klaxon's environment, so nothing was sent."
                )
            })?;
            real.insert(name.clone(), value.expose_secret().to_owned());
            masked.insert(name.clone(), MASK.to_owned());
        }
        let plain = self.context(&masked);
        let url_text = template::render(self.env, Part::Url, url, &plain)?;
        if template::has_dot_segment(&url_text) {
            return Err(format!(
                "`{url_text}` has a `.` or `..` path segment, so nothing was sent."
            ));
        }
        let url = reqwest::Url::parse(&url_text)
            .map_err(|_| format!("`{url_text}` is not a valid URL."))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(format!("`{url_text}` is not http or https."));
        }
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let where_ = url
            .port()
            .map_or_else(|| host.clone(), |p| format!("{host}:{p}"));
        let Some(allowed) = AllowedHost::find(self.allowed_hosts, &url) else {
            return Err(format!(
                "{where_} is not on the allow-list ([runbooks] allowed_hosts), so nothing was sent."
            ));
        };
        if !names.is_empty() && url.scheme() == "http" && !allowed.secrets_over_http {
            return Err(format!(
                "the action sends a secret, and http://{where_} is not encrypted, so nothing was sent \
                 (https, or secrets_over_http = true on its allowed_hosts entry)."
            ));
        }
        let body = match body {
            None => None,
            Some(b) => {
                let part = template::body_part(headers)?;
                let text = template::render(self.env, part, b, &plain)?;
                if part == Part::JsonBody && serde_json::from_str::<Value>(&text).is_err() {
                    return Err(
                        "the body is not JSON once rendered, so nothing was sent.".to_owned()
                    );
                }
                Some(text)
            }
        };
        let with_secrets = self.context(&real);
        let mut out = Vec::new();
        for (k, v) in headers {
            let shown = template::render(self.env, Part::Header, v, &plain)?;
            let sent = template::render(self.env, Part::Header, v, &with_secrets)?;
            let bad = || format!("the header {k} cannot be sent as rendered, so nothing was sent.");
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_str(&sent).map_err(|_| bad())?;
            value.set_sensitive(sent != shown);
            out.push(Header {
                written: k.clone(),
                name,
                value,
                shown,
            });
        }
        Ok(Rendered {
            method: method.clone(),
            url,
            headers: out,
            body,
            allowed: allowed.clone(),
        })
    }
}

/// What happened when an action was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target answered (any status).
    Answered {
        status: u16,
        request_id: Option<String>,
        millis: u128,
    },
    /// A precondition did not pass: the action itself was not sent.
    PreconditionFailed { name: String, detail: String },
    /// No answer: timeout, connection refused, TLS.
    NoAnswer { error: String, millis: u128 },
    /// The host resolved to an address the allow-list does not allow: nothing was sent.
    Refused { why: String },
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Answered { status, .. } if (200..300).contains(status))
    }
}

/// Sends the preconditions, then (if they pass) the request, once each; never retried. Each
/// goes only to the addresses its host was checked to resolve to.
pub async fn execute(resolver: &dyn Resolve, prepared: &Prepared) -> Outcome {
    for (name, check, expect) in &prepared.checks {
        match send(resolver, check, prepared.timeout).await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let ok = expect.map_or((200..300).contains(&status), |e| e == status);
                if !ok {
                    return Outcome::PreconditionFailed {
                        name: name.clone(),
                        detail: format!("answered {status}"),
                    };
                }
            }
            Err(e) => {
                return Outcome::PreconditionFailed {
                    name: name.clone(),
                    detail: e.describe(),
                };
            }
        }
    }
    let started = Instant::now();
    match send(resolver, &prepared.request, prepared.timeout).await {
        Ok(resp) => Outcome::Answered {
            status: resp.status().as_u16(),
            request_id: resp
                .headers()
                .get(prepared.request_id_header.as_str())
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(100).collect()),
            millis: started.elapsed().as_millis(),
        },
        Err(SendError::Refused(why)) => Outcome::Refused { why },
        Err(e) => Outcome::NoAnswer {
            error: e.describe(),
            millis: started.elapsed().as_millis(),
        },
    }
}

/// Why a request got no answer.
enum SendError {
    /// The address check refused it before any connection.
    Refused(String),
    Http(reqwest::Error),
}

impl SendError {
    /// A short, secret-free description.
    fn describe(&self) -> String {
        match self {
            Self::Refused(why) => format!("not sent: {why}"),
            Self::Http(e) if e.is_timeout() => "timed out".to_owned(),
            Self::Http(e) if e.is_connect() => "could not connect".to_owned(),
            Self::Http(_) => "no answer".to_owned(),
        }
    }
}

async fn send(
    resolver: &dyn Resolve,
    r: &Rendered,
    timeout: Duration,
) -> Result<reqwest::Response, SendError> {
    let addrs = allow::addresses(resolver, &r.allowed, &r.url)
        .await
        .map_err(SendError::Refused)?;
    // A client per request, pinned to the checked addresses: no second lookup, no proxy (which
    // would resolve the name itself), no redirects (which could lead anywhere).
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("klaxon/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(url::Host::Domain(name)) = r.url.host() {
        builder = builder.resolve_to_addrs(name, &addrs);
    }
    let client = builder.build().map_err(SendError::Http)?;
    let mut req = client
        .request(r.method.clone(), r.url.clone())
        .timeout(timeout);
    for h in &r.headers {
        req = req.header(h.name.clone(), h.value.clone());
    }
    if let Some(b) = &r.body {
        req = req.body(b.clone());
    }
    req.send().await.map_err(SendError::Http)
}
