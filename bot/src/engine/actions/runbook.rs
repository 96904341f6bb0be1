//! `/inc runbook list|show|start`: the loaded runbooks; starting one attaches it to the
//! incident, adds its triage checklist and sets its decision tree at the first question.

use klaxon_commands::{Message, Reply, Rich, RunbookCmd, UserError};

use crate::engine::{ActionResult, Ctx};
use crate::runbooks::{Node, Runbook, Step};
use crate::store::timeline::EntryKind;
use crate::store::{checklist, runbooks as attached};

pub async fn run(ctx: &mut Ctx<'_>, cmd: RunbookCmd) -> ActionResult {
    let catalog = &ctx.services.catalog;
    match cmd {
        RunbookCmd::List => {
            if catalog.runbooks.is_empty() {
                return Ok(Reply::ok_line(Rich::plain(format!(
                    "No runbooks are loaded (folder {}). `klaxon runbooks check` says why.",
                    ctx.config.runbooks.dir.display()
                ))));
            }
            let mut m = Message::new().line(Rich::plain(format!(
                "📘 Runbooks ({}):",
                catalog.runbooks.len()
            )));
            for rb in catalog.runbooks.values() {
                let sev = rb.severity.map_or_else(String::new, |s| format!(" ({s})"));
                m = m.line(Rich::plain(format!("{} · {}{sev}", rb.id, rb.title)));
            }
            m = m.line(Rich::plain(
                "`/inc runbook show <id>` for one; `/inc runbook start <id>` in an incident.",
            ));
            Ok(Reply::ok(m))
        }
        RunbookCmd::Show { id } => {
            let rb = find(ctx, &id)?;
            Ok(Reply::ok(show(rb, ctx)))
        }
        RunbookCmd::Start { id } => {
            let incident = ctx.incident_here("runbook").await?;
            let rb = find(ctx, &id)?.clone();
            if let Some((current, _)) = attached::current(ctx.conn, incident.id).await?
                && current == rb.id
            {
                return Err(UserError::new(format!(
                    "{} is already running runbook {}. `/inc checklist` shows its steps; `/inc next` its decision tree.",
                    incident.key(),
                    rb.id
                ))
                .into());
            }
            let user = ctx.inv.user.clone();
            let start = rb.decision.as_ref().map(|d| d.start.as_str());
            attached::start(ctx.conn, incident.id, &rb.id, &user, start, ctx.now).await?;
            let first = checklist::all(ctx.conn, incident.id)
                .await?
                .iter()
                .map(|i| i.item)
                .max()
                .unwrap_or(0)
                + 1;
            let mut m = Message::new().line(
                Rich::plain(format!("📘 Runbook {} started by ", rb.id))
                    .person(&user)
                    .text(format!(
                        ": {}. Triage (tick with /inc check <n>):",
                        rb.title
                    )),
            );
            let mut items = Vec::with_capacity(rb.triage.len());
            for (n, step) in (first..).zip(&rb.triage) {
                items.push(checklist::Item {
                    item: n,
                    text: format!("[{}] {}", rb.id, step.text),
                    due_at: None,
                    ticked_by: None,
                    done: None,
                });
                m = m.line(Rich::plain(format!("{n}. ⬜ {}", step_text(step))));
            }
            checklist::add_each(ctx.conn, incident.id, items).await?;
            if let Some(d) = &rb.decision
                && let Some(Node::Question { text, answers }) = d.nodes.get(&d.start)
            {
                let options: Vec<&str> = answers.iter().map(|(a, _)| a.as_str()).collect();
                m = m.line(Rich::plain(format!(
                    "Decide: {text} → /inc next {}",
                    options.join("|")
                )));
            }
            let entry = ctx
                .record(
                    &incident,
                    EntryKind::Runbook,
                    &format!("Started runbook {}", rb.id),
                )
                .await?;
            ctx.post_entry(&incident, entry, m).await?;
            Ok(super::common::done(format!(
                "✓ Runbook {} started on {}: {} triage steps added to the checklist.",
                rb.id,
                incident.key(),
                rb.triage.len()
            )))
        }
    }
}

fn find<'c>(ctx: &'c Ctx<'_>, id: &str) -> Result<&'c Runbook, UserError> {
    let catalog = &ctx.services.catalog;
    catalog.runbooks.get(id).ok_or_else(|| {
        let ids: Vec<&str> = catalog.runbooks.keys().map(String::as_str).collect();
        let close = ids
            .iter()
            .map(|k| (strsim::damerau_levenshtein(k, id), *k))
            .filter(|(d, _)| *d <= 3)
            .min()
            .map_or_else(String::new, |(_, k)| format!(" Did you mean `{k}`?"));
        UserError::new(format!(
            "No runbook `{id}`.{close} `/inc runbook list` shows them."
        ))
    })
}

/// A step as shown: its text, then the command to copy or the action to run.
fn step_text(step: &Step) -> String {
    let mut t = step.text.clone();
    if let Some(c) = &step.command {
        t.push_str(&format!(" — `{c}`"));
    }
    if let Some(a) = &step.action {
        t.push_str(&format!(" — /inc run {a}"));
    }
    t
}

/// `/inc runbook show`: the whole runbook, section by section.
fn show(rb: &Runbook, ctx: &Ctx<'_>) -> Message {
    let mut m = Message::new().line(Rich::plain(format!("📘 {} · {}", rb.id, rb.title)));
    let line = |m: Message, t: String| m.line(Rich::plain(t));
    if let Some(s) = rb.severity {
        m = line(m, format!("Severity hint: {s}"));
    }
    let o = &rb.owners;
    let owners: Vec<String> = [
        ("primary", &o.primary),
        ("secondary", &o.secondary),
        ("escalation", &o.escalation),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
    .collect();
    if !owners.is_empty() {
        m = line(m, format!("Owners: {}", owners.join(" · ")));
    }
    let list = |m: Message, title: &str, items: &[String]| {
        if items.is_empty() {
            return m;
        }
        let mut m = m.line(Rich::plain(format!("{title}:")));
        for (n, i) in items.iter().enumerate() {
            m = m.line(Rich::plain(format!("  {}. {i}", n + 1)));
        }
        m
    };
    m = list(m, "Trigger signals", &rb.triggers);
    let steps = |s: &[Step]| s.iter().map(step_text).collect::<Vec<_>>();
    m = list(m, "Triage", &steps(&rb.triage));
    m = list(m, "Containment", &steps(&rb.containment));
    m = list(m, "Recovery", &steps(&rb.recovery));
    m = list(m, "Evidence to capture", &rb.evidence);
    m = list(m, "Verification", &steps(&rb.verification));
    let matrix: Vec<String> = rb
        .escalation
        .iter()
        .map(|e| {
            let mut t = format!("{} → {}", e.condition, e.primary);
            if let Some(s) = &e.secondary {
                t.push_str(&format!(", then {s}"));
            }
            if let Some(x) = &e.escalate_to {
                t.push_str(&format!(", escalate to {x}"));
            }
            t
        })
        .collect();
    m = list(m, "Escalation", &matrix);
    let actions: Vec<String> = rb
        .actions
        .iter()
        .filter_map(|a| ctx.services.catalog.actions.get(a))
        .map(|a| {
            let params: Vec<String> = a.params.keys().map(|p| format!("{p}=…")).collect();
            let confirm = if a.confirm {
                ", asks for confirmation"
            } else {
                ""
            };
            format!(
                "/inc run {} {} — {} ({} {}{confirm})",
                a.name,
                params.join(" "),
                a.title,
                a.method,
                a.url
            )
        })
        .collect();
    m = list(m, "Actions", &actions);
    if rb.decision.is_some() {
        m = line(
            m,
            "Decision tree: `/inc next` walks it once the runbook is started.".to_owned(),
        );
    }
    m
}
