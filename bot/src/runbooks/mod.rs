//! Runbooks as code: TOML files in the team's repo, validated with file:line errors, loaded at
//! start-up (a broken file is reported and skipped), and run from chat.
//!
//! The schema is documented in README.md ("Runbook files"); `runbooks/*.toml` are examples.

pub mod allow;
#[cfg(test)]
mod drills;
pub mod request;
pub mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use klaxon_commands::{Role, Severity};
use serde::Deserialize;
use toml::Spanned;

/// A problem in a runbook file, at a line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// A step of a checklist: text, and optionally a command to copy or an action to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub text: String,
    pub command: Option<String>,
    pub action: Option<String>,
}

/// A row of the escalation matrix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub condition: String,
    pub primary: String,
    pub secondary: Option<String>,
    pub escalate_to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owners {
    pub primary: Option<String>,
    pub secondary: Option<String>,
    pub escalation: Option<String>,
}

/// A node of the decision tree: a question with answers, or a leaf with a recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Question {
        text: String,
        /// Answer → next node, in file order for yes/no.
        answers: Vec<(String, String)>,
    },
    Leaf {
        recommend: String,
        action: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
}

/// The type of an action parameter.
#[derive(Debug, Clone)]
pub enum ParamKind {
    Text,
    Word,
    Int { min: Option<i64>, max: Option<i64> },
    Enum(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Param {
    pub kind: ParamKind,
    pub required: bool,
    pub pattern: Option<regex::Regex>,
    pub help: Option<String>,
}

/// An HTTP check that must pass before an action is sent.
#[derive(Debug, Clone)]
pub struct Precondition {
    pub name: String,
    pub method: reqwest::Method,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expect_status: Option<u16>,
}

/// A side-effecting action: an HTTP request behind guardrails.
#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub runbook: String,
    pub title: String,
    pub method: reqwest::Method,
    pub url: String,
    pub body: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub timeout: std::time::Duration,
    pub allowed_roles: Vec<Role>,
    pub allowed_users: Vec<String>,
    pub min_severity: Option<Severity>,
    pub confirm: bool,
    pub params: BTreeMap<String, Param>,
    pub preconditions: Vec<Precondition>,
    pub request_id_header: String,
}

#[derive(Debug, Clone)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    pub severity: Option<Severity>,
    pub owners: Owners,
    pub triggers: Vec<String>,
    pub triage: Vec<Step>,
    pub containment: Vec<Step>,
    pub recovery: Vec<Step>,
    pub evidence: Vec<String>,
    pub verification: Vec<Step>,
    pub escalation: Vec<Escalation>,
    pub decision: Option<Decision>,
    /// Action names, in file order; the actions are in the catalog.
    pub actions: Vec<String>,
    pub source: PathBuf,
    /// Actions that steps and leaves refer to, with where: checked once every file is loaded,
    /// since a step may run another runbook's action.
    references: Vec<(String, Problem)>,
}

/// Every loaded runbook and action.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub runbooks: BTreeMap<String, Runbook>,
    pub actions: BTreeMap<String, Action>,
}

impl Catalog {
    /// Loads every `*.toml` in `dir`, in name order. Files with problems are skipped and their
    /// problems returned; a missing folder is an empty catalog.
    pub fn load_dir(dir: &Path) -> (Self, Vec<Problem>) {
        let mut catalog = Self::default();
        let mut problems = Vec::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (catalog, problems),
            Err(e) => {
                problems.push(Problem {
                    file: dir.to_path_buf(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read the folder: {e}"),
                });
                return (catalog, problems);
            }
        };
        files.sort();
        let mut loaded: Vec<Runbook> = Vec::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(Problem {
                        file,
                        line: 1,
                        column: 1,
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            match parse(&file, &text, &catalog) {
                Ok((runbook, actions)) => {
                    for action in actions {
                        catalog.actions.insert(action.name.clone(), action);
                    }
                    catalog.runbooks.insert(runbook.id.clone(), runbook.clone());
                    loaded.push(runbook);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        // Every action a step or leaf names must exist somewhere; a runbook that names a
        // missing one is not loaded (with its actions), since it would send people nowhere.
        for runbook in loaded {
            let dangling: Vec<Problem> = runbook
                .references
                .iter()
                .filter(|(name, _)| !catalog.actions.contains_key(name))
                .map(|(name, at)| Problem {
                    message: format!("refers to action `{name}`, which no runbook defines"),
                    ..at.clone()
                })
                .collect();
            if !dangling.is_empty() {
                catalog.runbooks.remove(&runbook.id);
                for a in &runbook.actions {
                    catalog.actions.remove(a);
                }
                problems.extend(dangling);
            }
        }
        problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        (catalog, problems)
    }
}

// ---- the file format, as written -------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    id: Spanned<String>,
    title: String,
    severity: Option<Spanned<String>>,
    #[serde(default)]
    owners: Owners,
    #[serde(default)]
    triggers: Vec<String>,
    #[serde(default)]
    triage: Vec<Spanned<RawStep>>,
    #[serde(default)]
    containment: Vec<Spanned<RawStep>>,
    #[serde(default)]
    recovery: Vec<Spanned<RawStep>>,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    verification: Vec<Spanned<RawStep>>,
    #[serde(default)]
    escalation: Vec<Escalation>,
    decision: Option<RawDecision>,
    #[serde(default)]
    actions: BTreeMap<Spanned<String>, Spanned<RawAction>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawStep {
    Text(String),
    Full(FullStep),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullStep {
    text: String,
    command: Option<String>,
    action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecision {
    start: Spanned<String>,
    nodes: BTreeMap<Spanned<String>, Spanned<RawNode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    question: Option<String>,
    yes: Option<String>,
    no: Option<String>,
    #[serde(default)]
    choices: BTreeMap<String, String>,
    recommend: Option<String>,
    action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    title: String,
    method: Spanned<String>,
    url: Spanned<String>,
    body: Option<Spanned<String>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    allowed_roles: Vec<Spanned<String>>,
    #[serde(default)]
    allowed_users: Vec<String>,
    min_severity: Option<Spanned<String>>,
    /// Fail closed: an action asks for confirmation unless it says `confirm = false`.
    #[serde(default = "yes")]
    confirm: bool,
    #[serde(default)]
    params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    preconditions: Vec<Spanned<RawPrecondition>>,
    request_id_header: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    kind: Option<Spanned<String>>,
    #[serde(default = "yes")]
    required: bool,
    pattern: Option<Spanned<String>>,
    #[serde(default)]
    values: Vec<String>,
    min: Option<i64>,
    max: Option<i64>,
    help: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrecondition {
    name: String,
    method: Option<Spanned<String>>,
    url: Spanned<String>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    expect_status: Option<u16>,
}

// ---- validation --------------------------------------------------------------------------

/// Turns byte offsets into 1-based line and column.
struct Lines<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Lines<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> Problem {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

const ID_RULE: &str = "lowercase letters, digits and -, starting with a letter, at most 40";

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parses and validates one file against what is already loaded (ids and action names must be
/// unique across files).
pub fn parse(
    file: &Path,
    text: &str,
    loaded: &Catalog,
) -> Result<(Runbook, Vec<Action>), Vec<Problem>> {
    let lines = Lines { file, text };
    let raw: RawRunbook = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        // One problem, one line: toml's multi-line messages are folded.
        let message: Vec<&str> = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        vec![lines.at(span, message.join("; "))]
    })?;
    let mut problems = Vec::new();
    let id = raw.id.get_ref().clone();
    if !valid_id(&id) {
        problems.push(lines.at(raw.id.span(), format!("id `{id}` must be {ID_RULE}")));
    } else if let Some(other) = loaded.runbooks.get(&id) {
        problems.push(lines.at(
            raw.id.span(),
            format!("id `{id}` is already used by {}", other.source.display()),
        ));
    }
    let severity = raw.severity.as_ref().and_then(|s| {
        Severity::from_word(s.get_ref()).or_else(|| {
            problems.push(lines.at(
                s.span(),
                format!("`{}` is not a severity (sev1-sev4)", s.get_ref()),
            ));
            None
        })
    });

    // Actions first: steps and the decision tree refer to them.
    let mut actions = Vec::new();
    let mut names = Vec::new();
    for (name, raw_action) in &raw.actions {
        let n = name.get_ref().clone();
        if !valid_id(&n) {
            problems.push(lines.at(name.span(), format!("action name `{n}` must be {ID_RULE}")));
            continue;
        }
        if let Some(other) = loaded.actions.get(&n) {
            problems.push(lines.at(
                name.span(),
                format!(
                    "action `{n}` is already defined in runbook `{}`",
                    other.runbook
                ),
            ));
            continue;
        }
        names.push(n.clone());
        if let Some(action) = action(&lines, &id, &n, raw_action, &mut problems) {
            actions.push(action);
        }
    }
    let mut references: Vec<(String, Problem)> = Vec::new();

    let mut steps = |list: &[Spanned<RawStep>], problems: &mut Vec<Problem>| -> Vec<Step> {
        list.iter()
            .map(|s| {
                let step = match s.get_ref() {
                    RawStep::Text(t) => Step {
                        text: t.clone(),
                        command: None,
                        action: None,
                    },
                    RawStep::Full(f) => Step {
                        text: f.text.clone(),
                        command: f.command.clone(),
                        action: f.action.clone(),
                    },
                };
                if step.text.trim().is_empty() {
                    problems.push(lines.at(s.span(), "a step needs text"));
                }
                if let Some(a) = &step.action {
                    references.push((a.clone(), lines.at(s.span(), String::new())));
                }
                step
            })
            .collect()
    };
    let triage = steps(&raw.triage, &mut problems);
    let containment = steps(&raw.containment, &mut problems);
    let recovery = steps(&raw.recovery, &mut problems);
    let verification = steps(&raw.verification, &mut problems);
    if triage.is_empty() {
        problems.push(lines.at(
            raw.id.span(),
            "a runbook needs a triage checklist (`triage = [...]`)",
        ));
    }

    let decision = raw
        .decision
        .as_ref()
        .map(|d| decision(&lines, d, &mut references, &mut problems));

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((
        Runbook {
            id: id.clone(),
            title: raw.title,
            severity,
            owners: raw.owners,
            triggers: raw.triggers,
            triage,
            containment,
            recovery,
            evidence: raw.evidence,
            verification,
            escalation: raw.escalation,
            decision,
            actions: names,
            source: file.to_path_buf(),
            references,
        },
        actions,
    ))
}

fn decision(
    lines: &Lines<'_>,
    raw: &RawDecision,
    references: &mut Vec<(String, Problem)>,
    problems: &mut Vec<Problem>,
) -> Decision {
    let ids: BTreeSet<&str> = raw.nodes.keys().map(|k| k.get_ref().as_str()).collect();
    if !ids.contains(raw.start.get_ref().as_str()) {
        problems.push(lines.at(
            raw.start.span(),
            format!("start node `{}` is not defined", raw.start.get_ref()),
        ));
    }
    let mut nodes = BTreeMap::new();
    for (key, node) in &raw.nodes {
        let n = node.get_ref();
        let here = node.span();
        let built = match (&n.question, &n.recommend) {
            (Some(q), None) => {
                let mut answers = Vec::new();
                if let Some(y) = &n.yes {
                    answers.push(("yes".to_owned(), y.clone()));
                }
                if let Some(no) = &n.no {
                    answers.push(("no".to_owned(), no.clone()));
                }
                for (choice, next) in &n.choices {
                    answers.push((choice.to_ascii_lowercase(), next.clone()));
                }
                if answers.is_empty() {
                    problems.push(lines.at(
                        here.clone(),
                        format!(
                            "question `{}` needs answers: yes/no or choices",
                            key.get_ref()
                        ),
                    ));
                }
                for (_, next) in &answers {
                    if !ids.contains(next.as_str()) {
                        problems.push(lines.at(
                            here.clone(),
                            format!("`{}` leads to `{next}`, which is not a node", key.get_ref()),
                        ));
                    }
                }
                if n.action.is_some() {
                    problems.push(
                        lines.at(here.clone(), "only a leaf (`recommend`) can name an action"),
                    );
                }
                Node::Question {
                    text: q.clone(),
                    answers,
                }
            }
            (None, Some(r)) => {
                if n.yes.is_some() || n.no.is_some() || !n.choices.is_empty() {
                    problems.push(lines.at(
                        here.clone(),
                        format!(
                            "leaf `{}` has a recommendation, so it cannot have answers",
                            key.get_ref()
                        ),
                    ));
                }
                if let Some(a) = &n.action {
                    references.push((a.clone(), lines.at(here.clone(), String::new())));
                }
                Node::Leaf {
                    recommend: r.clone(),
                    action: n.action.clone(),
                }
            }
            _ => {
                problems.push(lines.at(
                    here.clone(),
                    format!(
                        "node `{}` needs exactly one of `question` or `recommend`",
                        key.get_ref()
                    ),
                ));
                continue;
            }
        };
        nodes.insert(key.get_ref().clone(), built);
    }
    Decision {
        start: raw.start.get_ref().clone(),
        nodes,
    }
}

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

fn action(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Runbook, Vec<String>> {
        parse(Path::new("rb.toml"), text, &Catalog::default())
            .map(|(r, _)| r)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    const GOOD: &str = r#"
id = "kill-switch"
title = "Risk kill switch"
severity = "sev1"
triage = ["Check the switch", { text = "Look at the logs", command = "journalctl -u api" }]

[decision]
start = "q1"
[decision.nodes.q1]
question = "Is it triggered?"
yes = "halt"
no = "done"
[decision.nodes.halt]
recommend = "Keep it halted"
action = "halt"
[decision.nodes.done]
recommend = "Investigate the orchestrator"

[actions.halt]
title = "Halt"
method = "POST"
url = "https://risk.example.com/halt"
body = '{"reason": {{ reason | tojson }}}'
headers = { Authorization = "Bearer {{ secret.RISK_TOKEN }}" }
allowed_roles = ["ic"]
[actions.halt.params.reason]
kind = "text"
"#;

    #[test]
    fn a_good_file_loads() {
        let rb = check(GOOD).expect("valid");
        assert_eq!(rb.id, "kill-switch");
        assert_eq!(rb.triage[1].command.as_deref(), Some("journalctl -u api"));
        assert_eq!(rb.actions, ["halt"]);
    }

    #[test]
    fn problems_have_lines() {
        let bad = GOOD
            .replace("yes = \"halt\"", "yes = \"nowhere\"")
            .replace("allowed_roles = [\"ic\"]", "")
            .replace("{{ reason | tojson }}", "{{ reson }}");
        let problems = check(&bad).expect_err("invalid");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("rb.toml:") && p.contains("leads to `nowhere`")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("must say who may run it")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`reson` is not a declared parameter")),
            "{problems:?}"
        );
        let syntax = check("id = \"x\"\ntitle = \"t\"\ntriage = [\n").expect_err("syntax");
        assert_eq!(syntax, ["rb.toml:4:1: invalid array; expected `]`"]);
        let unknown = check("id = \"x\"\ntitle = \"t\"\ntriage = [\"a\"]\nowner = \"me\"\n")
            .expect_err("unknown");
        assert!(
            unknown[0].starts_with("rb.toml:4:1: unknown field `owner`"),
            "{unknown:?}"
        );
        let secret_in_url = GOOD.replace(
            "https://risk.example.com/halt",
            "https://risk.example.com/halt?t={{ secret.RISK_TOKEN }}",
        );
        let p = check(&secret_in_url).expect_err("secret in url");
        assert!(
            p[0].contains("secrets may only be used in headers"),
            "{p:?}"
        );
    }
}
