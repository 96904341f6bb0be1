//! Postmortem drafts: the incident's record, gathered into a template context and rendered
//! with MiniJinja. The default template (`bot/templates/postmortem.md.j2`) follows the seeds'
//! blameless template; a team can replace it (`[postmortem] template`). Sections with nothing
//! recorded carry a prompt for the author, never invented content.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::Severity;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use crate::clock::long;
use crate::config::Config;
use crate::engine::render::age;
use crate::store::{
    self, Incident,
    timeline::{Entry, EntryKind},
};

/// The built-in template.
pub const DEFAULT_TEMPLATE: &str = include_str!("../../templates/postmortem.md.j2");

/// Renders drafts; built once at start-up, so a broken template fails there, not mid-incident.
#[derive(Debug)]
pub struct Renderer {
    env: Environment<'static>,
}

impl Renderer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let source = match &config.postmortem.template {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("reading postmortem template {}: {e}", path.display())
            })?,
            None => DEFAULT_TEMPLATE.to_owned(),
        };
        Self::from_source(source)
    }

    pub fn from_source(source: String) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_keep_trailing_newline(true);
        env.add_filter("cell", cell);
        env.add_template_owned("postmortem", source)
            .map_err(|e| anyhow::anyhow!("postmortem template: {e:#}"))?;
        Ok(Self { env })
    }

    pub fn render(&self, context: &Context) -> anyhow::Result<String> {
        let template = self.env.get_template("postmortem")?;
        template
            .render(context)
            .map_err(|e| anyhow::anyhow!("rendering the postmortem: {e:#}"))
    }
}

/// Makes text safe inside a Markdown table cell: pipes escaped, line breaks as `<br>`.
fn cell(value: String) -> String {
    value
        .replace('|', "\\|")
        .replace("\r\n", "<br>")
        .replace('\n', "<br>")
}

/// One line of free text for a Markdown list item.
fn line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything the template can use.
#[derive(Debug, Serialize)]
pub struct Context {
    pub key: String,
    pub title: String,
    /// Declaration date, `YYYY-MM-DD` (UTC).
    pub date: String,
    pub severity: String,
    pub severity_initial: String,
    pub status: String,
    pub started: String,
    pub ended: Option<String>,
    pub duration: String,
    pub declared_by: String,
    pub detected_by: Option<String>,
    pub resolved_by: Option<String>,
    pub refs: Vec<String>,
    pub postmortem_due: Option<String>,
    pub impacts: Vec<String>,
    pub root_causes: Vec<String>,
    pub lessons: Vec<String>,
    pub updates: Vec<Update>,
    pub timeline: Vec<Row>,
    pub followups: Vec<Followup>,
    /// The body of a Mermaid `gantt` diagram of status phases and severity over time.
    pub mermaid: String,
    pub version: i64,
    pub generated: String,
}

#[derive(Debug, Serialize)]
pub struct Update {
    pub time: String,
    pub actor: String,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub time: String,
    pub actor: String,
    pub event: String,
}

#[derive(Debug, Serialize)]
pub struct Followup {
    pub item: i64,
    pub text: String,
    pub owner: String,
    pub due: String,
    pub status: String,
}

/// Gathers an incident's record into a template context.
pub async fn gather(
    conn: &mut Conn,
    config: &Config,
    incident: &Incident,
    version: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Context> {
    let entries = store::timeline::all(conn, incident.id).await?;
    let followups = store::postmortems::followups(conn, incident.id).await?;
    let refs = store::postmortems::refs(conn, incident.id).await?;
    let (due, _) = store::postmortems::due_and_done(conn, incident.id).await?;
    let end = incident.resolved_at.unwrap_or(now);
    let multi_day = incident.declared_at.date_naive() != end.date_naive();
    let time = |t: DateTime<Utc>| {
        if multi_day {
            t.format("%m-%d %H:%M").to_string()
        } else {
            t.format("%H:%M").to_string()
        }
    };
    let texts = |kind: EntryKind| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| line(&e.text))
            .collect()
    };
    let today = config.business_hours.date_of(now);
    Ok(Context {
        key: incident.key(),
        title: line(&incident.title),
        date: incident.declared_at.format("%Y-%m-%d").to_string(),
        severity: incident.severity.to_string(),
        severity_initial: initial_severity(incident, &entries).to_string(),
        status: incident.status.to_string(),
        started: long(incident.declared_at),
        ended: incident.resolved_at.map(long),
        duration: age(incident.declared_at, end),
        declared_by: format!("@{}", incident.declared_by.label()),
        detected_by: entries
            .iter()
            .find(|e| matches!(e.kind, EntryKind::Detected { .. }))
            .map(|e| line(&e.text)),
        resolved_by: incident.resolved_at.and(
            entries
                .iter()
                .rev()
                .find(|e| e.kind == EntryKind::Resolved)
                .map(|e| format!("@{}", e.actor.label())),
        ),
        refs,
        postmortem_due: due.map(long),
        impacts: texts(EntryKind::Impact),
        root_causes: texts(EntryKind::RootCause),
        lessons: texts(EntryKind::Lesson),
        updates: entries
            .iter()
            .filter(|e| e.kind == EntryKind::Update)
            .map(|e| Update {
                time: time(e.at),
                actor: format!("@{}", e.actor.label()),
                text: line(&e.text),
            })
            .collect(),
        timeline: entries
            .iter()
            .map(|e| Row {
                time: time(e.at),
                actor: format!("@{}", e.actor.label()),
                event: event(e),
            })
            .collect(),
        followups: followups
            .iter()
            .map(|f| Followup {
                item: f.item,
                text: line(&f.text),
                owner: f
                    .owner
                    .as_ref()
                    .map_or_else(|| "—".to_owned(), |o| format!("@{}", o.label())),
                due: f
                    .due
                    .map_or_else(|| "—".to_owned(), |d| d.format("%Y-%m-%d").to_string()),
                status: match (&f.done, f.due) {
                    (Some((who, at)), _) => {
                        format!("done ({}, @{})", at.format("%Y-%m-%d"), who.label())
                    }
                    (None, Some(d)) if d < today => "overdue".to_owned(),
                    (None, _) => "open".to_owned(),
                },
            })
            .collect(),
        mermaid: mermaid(incident, &entries, end),
        version,
        generated: long(now),
    })
}

/// What a timeline row says.
fn event(e: &Entry) -> String {
    let text = line(&e.text);
    match &e.kind {
        EntryKind::Update => format!("Update: {text}"),
        EntryKind::Note => format!("Note: {text}"),
        EntryKind::Impact => format!("Impact: {text}"),
        EntryKind::RootCause => format!("Root cause: {text}"),
        EntryKind::Lesson => format!("Lesson: {text}"),
        // A message captured with a reaction, linked to where it was said.
        EntryKind::Captured { permalink, .. } => match permalink.as_deref() {
            Some(link) if link.starts_with("https://") => {
                format!("📌 {text} ([message](<{}>))", link.replace('>', "%3E"))
            }
            _ => format!("📌 {text}"),
        },
        _ => text,
    }
}

fn initial_severity(incident: &Incident, entries: &[Entry]) -> Severity {
    entries
        .iter()
        .find_map(|e| match e.kind {
            EntryKind::Declared { severity } => Some(severity),
            _ => None,
        })
        .or_else(|| {
            entries.iter().find_map(|e| match e.kind {
                EntryKind::Severity { from, .. } => Some(from),
                _ => None,
            })
        })
        .unwrap_or(incident.severity)
}

/// A Mermaid gantt of status phases and severity levels, from the structured timeline data.
fn mermaid(incident: &Incident, entries: &[Entry], end: DateTime<Utc>) -> String {
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    // Status phases: triage from declare; each status change, resolve and reopen moves on.
    let mut phases: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut current = Some(("triage".to_owned(), incident.declared_at));
    for e in entries {
        let next = match e.kind {
            EntryKind::Status { to, .. } => Some(to.as_str().to_owned()),
            EntryKind::Resolved => None,
            EntryKind::Reopened => Some("triage".to_owned()),
            _ => continue,
        };
        if let Some((name, start)) = current.take() {
            phases.push((name, start, e.at));
        }
        current = next.map(|n| (n, e.at));
    }
    if let Some((name, start)) = current {
        phases.push((name, start, end));
    }
    // Severity levels.
    let mut levels: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut level = (
        initial_severity(incident, entries).to_string(),
        incident.declared_at,
    );
    for e in entries {
        if let EntryKind::Severity { to, .. } = e.kind {
            levels.push((level.0.clone(), level.1, e.at));
            level = (to.to_string(), e.at);
        }
    }
    levels.push((level.0, level.1, end.max(level.1)));

    let mut out = vec![
        "gantt".to_owned(),
        format!("    title {} phases and severity (UTC)", incident.key()),
        "    dateFormat YYYY-MM-DDTHH:mm:ss".to_owned(),
        "    axisFormat %H:%M".to_owned(),
        "    section Status".to_owned(),
    ];
    for (name, start, stop) in phases {
        out.push(format!("    {name} :{}, {}", fmt(start), fmt(stop)));
    }
    out.push("    section Severity".to_owned());
    for (name, start, stop) in levels {
        let tag = if name == "SEV1" { "crit, " } else { "" };
        out.push(format!("    {name} :{tag}{}, {}", fmt(start), fmt(stop)));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped() {
        assert_eq!(cell("a | b\nc".to_owned()), "a \\| b<br>c");
    }

    #[test]
    fn a_broken_template_fails_at_start() {
        let err = Renderer::from_source("{% for x in %}".to_owned()).expect_err("broken");
        assert!(
            format!("{err:#}").contains("postmortem template"),
            "{err:#}"
        );
        Renderer::from_source(DEFAULT_TEMPLATE.to_owned()).expect("default template compiles");
    }
}
