//! A runbook's actions: the request, its templates, parameters, preconditions and guardrails,
//! checked at load time.

use std::collections::{BTreeMap, BTreeSet};

use klaxon_commands::{Role, Severity};
use toml::Spanned;

use super::raw::RawAction;
use super::{Action, Param, ParamKind, Precondition, Problem, request, template};
use crate::files::Lines;

fn method(
    lines: &Lines<'_>,
    m: &Spanned<String>,
    problems: &mut Vec<Problem>,
) -> Option<reqwest::Method> {
    match m.get_ref().to_ascii_uppercase().as_str() {
        "GET" => Some(reqwest::Method::GET),
        "POST" => Some(reqwest::Method::POST),
        "PUT" => Some(reqwest::Method::PUT),
        "PATCH" => Some(reqwest::Method::PATCH),
        "DELETE" => Some(reqwest::Method::DELETE),
        other => {
            problems.push(lines.at(
                m.span(),
                format!("`{other}` is not GET, POST, PUT, PATCH or DELETE"),
            ));
            None
        }
    }
}

/// Checks a template compiles and uses only what it may: declared parameters, `incident`, and
/// (in headers only) `secret.NAME`.
fn template(
    lines: &Lines<'_>,
    t: &Spanned<String>,
    params: &BTreeSet<String>,
    secrets_allowed: bool,
    problems: &mut Vec<Problem>,
) {
    let env = template::env();
    match env.template_from_str(t.get_ref()) {
        Err(e) => problems.push(lines.at(
            t.span(),
            format!("template: {}", e.detail().unwrap_or("syntax error")),
        )),
        Ok(tpl) => {
            for var in tpl.undeclared_variables(false) {
                match var.as_str() {
                    "incident" => {}
                    "secret" if secrets_allowed => {}
                    "secret" => problems.push(lines.at(
                        t.span(),
                        "secrets may only be used in headers, never in a URL or body",
                    )),
                    v if params.contains(v) => {}
                    v => problems
                        .push(lines.at(t.span(), format!("`{v}` is not a declared parameter"))),
                }
            }
            for var in tpl.undeclared_variables(true) {
                if let Some(name) = var.strip_prefix("secret.")
                    && !request::valid_secret_name(name)
                {
                    problems.push(lines.at(
                        t.span(),
                        format!(
                            "secret `{name}` must be A-Z, digits and _ (it is read from {}NAME)",
                            request::SECRET_PREFIX
                        ),
                    ));
                }
            }
        }
    }
}

/// Builds one action, or `None` with its problems.
pub(super) fn action(
    lines: &Lines<'_>,
    runbook: &str,
    name: &str,
    raw: &Spanned<RawAction>,
    problems: &mut Vec<Problem>,
) -> Option<Action> {
    let a = raw.get_ref();
    let before = problems.len();
    let method_ = method(lines, &a.method, problems);
    let declared: BTreeSet<String> = a.params.keys().cloned().collect();
    template(lines, &a.url, &declared, false, problems);
    if let Some(b) = &a.body {
        template(lines, b, &declared, false, problems);
    }
    for h in a.headers.values() {
        template(lines, h, &declared, true, problems);
    }
    if let Err(e) = template::check_url_template(a.url.get_ref()) {
        problems.push(lines.at(a.url.span(), e));
    }
    let timeout = match &a.timeout {
        None => std::time::Duration::from_secs(10),
        Some(t) => match klaxon_commands::Duration::parse(t.get_ref()) {
            Ok(d) if d.as_secs() <= 120 => d.as_std(),
            _ => {
                problems
                    .push(lines.at(t.span(), "timeout must be a duration up to 2m, like `10s`"));
                std::time::Duration::from_secs(10)
            }
        },
    };
    let mut roles = Vec::new();
    for r in &a.allowed_roles {
        match Role::parse(r.get_ref()) {
            Ok(role) => roles.push(role),
            Err(_) => problems.push(lines.at(
                r.span(),
                format!("`{}` is not a role (ic, comms, scribe, ops)", r.get_ref()),
            )),
        }
    }
    if a.allowed_roles.is_empty() && a.allowed_users.is_empty() {
        problems.push(lines.at(
            raw.span(),
            format!("action `{name}` must say who may run it: allowed_roles and/or allowed_users"),
        ));
    }
    let min_severity = a.min_severity.as_ref().and_then(|s| {
        Severity::from_word(s.get_ref()).or_else(|| {
            problems.push(lines.at(
                s.span(),
                format!("`{}` is not a severity (sev1-sev4)", s.get_ref()),
            ));
            None
        })
    });
    let mut params = BTreeMap::new();
    for (pname, p) in &a.params {
        let rp = p.get_ref();
        if !pname
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        {
            problems.push(lines.at(
                p.span(),
                format!("parameter name `{pname}` must be lowercase letters, digits, _ and -"),
            ));
        }
        let kind = match rp
            .kind
            .as_ref()
            .map(|k| k.get_ref().as_str())
            .unwrap_or("text")
        {
            "text" => ParamKind::Text,
            "word" => ParamKind::Word,
            "int" => ParamKind::Int {
                min: rp.min,
                max: rp.max,
            },
            "enum" => {
                if rp.values.is_empty() {
                    problems
                        .push(lines.at(p.span(), format!("enum parameter `{pname}` needs values")));
                }
                ParamKind::Enum(rp.values.clone())
            }
            other => {
                let span = rp.kind.as_ref().map_or(p.span(), Spanned::span);
                problems.push(lines.at(
                    span,
                    format!("`{other}` is not a parameter kind (text, word, int, enum)"),
                ));
                ParamKind::Text
            }
        };
        let pattern = rp.pattern.as_ref().and_then(|pat| {
            match regex::Regex::new(&format!("^(?:{})$", pat.get_ref())) {
                Ok(r) => Some(r),
                Err(e) => {
                    problems.push(lines.at(pat.span(), format!("pattern: {e}")));
                    None
                }
            }
        });
        params.insert(
            pname.clone(),
            Param {
                kind,
                required: rp.required,
                pattern,
                help: rp.help.clone(),
            },
        );
    }
    let mut preconditions = Vec::new();
    for pc in &a.preconditions {
        let raw_pc = pc.get_ref();
        template(lines, &raw_pc.url, &declared, false, problems);
        if let Err(e) = template::check_url_template(raw_pc.url.get_ref()) {
            problems.push(lines.at(raw_pc.url.span(), e));
        }
        for h in raw_pc.headers.values() {
            template(lines, h, &declared, true, problems);
        }
        let m = match &raw_pc.method {
            Some(m) => method(lines, m, problems),
            None => Some(reqwest::Method::GET),
        };
        preconditions.push(Precondition {
            name: raw_pc.name.clone(),
            method: m.unwrap_or(reqwest::Method::GET),
            url: raw_pc.url.get_ref().clone(),
            headers: raw_pc
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.get_ref().clone()))
                .collect(),
            expect_status: raw_pc.expect_status,
        });
    }
    let headers: BTreeMap<String, String> = a
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.get_ref().clone()))
        .collect();
    if let Some(b) = &a.body
        && problems.len() == before
        && let Err(e) = template::check_body(b.get_ref(), &headers, &samples(&params))
    {
        problems.push(lines.at(b.span(), e));
    }
    if problems.len() > before {
        return None;
    }
    Some(Action {
        name: name.to_owned(),
        runbook: runbook.to_owned(),
        title: a.title.clone(),
        method: method_?,
        url: a.url.get_ref().clone(),
        body: a.body.as_ref().map(|b| b.get_ref().clone()),
        headers,
        timeout,
        allowed_roles: roles,
        allowed_users: a.allowed_users.clone(),
        min_severity,
        confirm: a.confirm,
        params,
        preconditions,
        request_id_header: a
            .request_id_header
            .clone()
            .unwrap_or_else(|| "x-request-id".to_owned()),
    })
}

/// A value of each parameter, to render a body once at load time.
fn samples(params: &BTreeMap<String, Param>) -> BTreeMap<String, serde_json::Value> {
    params
        .iter()
        .map(|(name, p)| {
            let v = match &p.kind {
                ParamKind::Text | ParamKind::Word => serde_json::Value::from("sample"),
                ParamKind::Int { min, .. } => serde_json::Value::from(min.unwrap_or(0)),
                ParamKind::Enum(values) => {
                    serde_json::Value::from(values.first().cloned().unwrap_or_default())
                }
            };
            (name.clone(), v)
        })
        .collect()
}
