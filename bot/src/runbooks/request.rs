//! Turning a runbook action and its parameters into an HTTP request, behind its guardrails,
//! and sending it with reqwest.
//!
//! Everything that can refuse is checked before anything is sent: parameters (declared, typed,
//! matching their pattern), the host (on the allow-list), the secrets (present in the
//! environment). A refusal is a sentence for the user. Secrets are rendered only into the real
//! request; previews and the audit trail see `••••••`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Action, ParamKind};

/// Where secrets come from: the environment in production, a map in tests.
pub trait Secrets: Send + Sync {
    fn get(&self, name: &str) -> Option<String>;
}

/// Secrets from environment variables.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl Secrets for EnvSecrets {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
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

/// One request, rendered twice: for real and masked.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: Vec<(String, String)>,
    pub masked_headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Rendered {
    /// The request as people read it: method, URL, headers (secrets masked), body.
    pub fn preview(&self) -> String {
        let mut out = format!("{} {}", self.method, self.url);
        for (k, v) in &self.masked_headers {
            out.push_str(&format!("\n{k}: {v}"));
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
    allowed_hosts: &[String],
    secrets: &dyn Secrets,
) -> Result<Prepared, String> {
    let mut checks = Vec::new();
    for pc in &action.preconditions {
        let r = render(
            &pc.method,
            &pc.url,
            None,
            &pc.headers,
            params,
            incident,
            allowed_hosts,
            secrets,
        )?;
        checks.push((pc.name.clone(), r, pc.expect_status));
    }
    let request = render(
        &action.method,
        &action.url,
        action.body.as_deref(),
        &action.headers,
        params,
        incident,
        allowed_hosts,
        secrets,
    )?;
    Ok(Prepared {
        checks,
        request,
        timeout: action.timeout,
        request_id_header: action.request_id_header.clone(),
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site per request part; a struct would only rename them"
)]
fn render(
    method: &reqwest::Method,
    url: &str,
    body: Option<&str>,
    headers: &BTreeMap<String, String>,
    params: &BTreeMap<String, Value>,
    incident: &IncidentVars,
    allowed_hosts: &[String],
    secrets: &dyn Secrets,
) -> Result<Rendered, String> {
    let env = super::template_env();
    let base = |secret: &BTreeMap<String, String>| {
        let mut ctx: BTreeMap<String, Value> = params.clone();
        ctx.insert(
            "incident".into(),
            serde_json::to_value(incident).unwrap_or(Value::Null),
        );
        ctx.insert(
            "secret".into(),
            serde_json::to_value(secret).unwrap_or(Value::Null),
        );
        ctx
    };
    let one = |tpl: &str, ctx: &BTreeMap<String, Value>| -> Result<String, String> {
        env.render_str(tpl, ctx).map_err(|e| {
            format!(
                "the runbook's template failed: {}",
                e.detail().unwrap_or("render error")
            )
        })
    };
    // Secrets used by the headers, read now: a missing one refuses the action.
    let mut names = Vec::new();
    for h in headers.values() {
        if let Ok(t) = env.template_from_str(h) {
            names.extend(
                t.undeclared_variables(true)
                    .into_iter()
                    .filter_map(|v| v.strip_prefix("secret.").map(str::to_owned)),
            );
        }
    }
    let mut real = BTreeMap::new();
    let mut masked = BTreeMap::new();
    for name in names {
        let value = secrets.get(&name).ok_or_else(|| {
            format!("the secret {name} is not set in Klaxon's environment, so nothing was sent.")
        })?;
        real.insert(name.clone(), value);
        masked.insert(name, MASK.to_owned());
    }
    let plain = base(&masked);
    let url_text = one(url, &plain)?;
    let url =
        reqwest::Url::parse(&url_text).map_err(|_| format!("`{url_text}` is not a valid URL."))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("`{url_text}` is not http or https."));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    if !allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return Err(format!(
            "{host} is not on the allow-list ([runbooks] allowed_hosts), so nothing was sent."
        ));
    }
    let body = body.map(|b| one(b, &plain)).transpose()?;
    let with_secrets = base(&real);
    let mut out_headers = Vec::new();
    let mut masked_headers = Vec::new();
    for (k, v) in headers {
        out_headers.push((k.clone(), one(v, &with_secrets)?));
        masked_headers.push((k.clone(), one(v, &plain)?));
    }
    Ok(Rendered {
        method: method.clone(),
        url,
        headers: out_headers,
        masked_headers,
        body,
    })
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
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Self::Answered { status, .. } if (200..300).contains(status))
    }
}

/// Sends the preconditions, then (if they pass) the request, once each; never retried.
pub async fn execute(client: &reqwest::Client, prepared: &Prepared) -> Outcome {
    for (name, check, expect) in &prepared.checks {
        match send(client, check, prepared.timeout).await {
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
                    detail: describe(&e),
                };
            }
        }
    }
    let started = Instant::now();
    match send(client, &prepared.request, prepared.timeout).await {
        Ok(resp) => Outcome::Answered {
            status: resp.status().as_u16(),
            request_id: resp
                .headers()
                .get(prepared.request_id_header.as_str())
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(100).collect()),
            millis: started.elapsed().as_millis(),
        },
        Err(e) => Outcome::NoAnswer {
            error: describe(&e),
            millis: started.elapsed().as_millis(),
        },
    }
}

async fn send(
    client: &reqwest::Client,
    r: &Rendered,
    timeout: Duration,
) -> Result<reqwest::Response, reqwest::Error> {
    let mut req = client
        .request(r.method.clone(), r.url.clone())
        .timeout(timeout);
    for (k, v) in &r.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    if let Some(b) = &r.body {
        req = req.body(b.clone());
    }
    req.send().await
}

/// A short, secret-free description of a transport error.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "no answer".to_owned()
    }
}
