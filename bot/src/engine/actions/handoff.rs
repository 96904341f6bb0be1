//! `/inc handoff [@to]`: the on-call handoff, filled from the record (after the seeds'
//! template); with `@to`, the incident commander role moves to them.

use klaxon_commands::{Message, Rich, Role, UserRef};

use super::common::done;
use crate::clock::{long, short};
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, checklist, postmortems, reminders as schedules, timeline};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, to: Option<UserRef>) -> ActionResult {
    let before = ctx.snapshot(&incident).await?;
    let user = ctx.inv.user.clone();
    let outgoing = crate::engine::reminders::owner(ctx.conn, &incident).await?;
    if let Some(to) = &to
        && to.id != outgoing.id
    {
        super::role::assign(ctx, &incident, Role::Ic, to).await?;
    }
    let owner = to.clone().unwrap_or_else(|| outgoing.clone());

    let owner_line = match &to {
        Some(to) if to.id != outgoing.id => field("Owner")
            .ping(to)
            .text(" (from ")
            .person(&outgoing)
            .text(")"),
        _ => field("Owner").person(&owner),
    };
    let mut headline = Rich::plain(format!(
        "🤝 Handoff · {} · {}",
        incident.key(),
        incident.severity
    ));
    if let Some(to) = &to {
        headline = headline.text(" · to ").person(to);
    }
    let mut m = Message::new().line(headline);
    for line in fields(ctx.conn, &incident, owner_line).await? {
        m = m.line(line);
    }

    let text = match &to {
        Some(to) => format!("Handed off to @{}", to.label()),
        None => "Posted the handoff".to_owned(),
    };
    let entry = ctx.record(&incident, EntryKind::Handoff, &text).await?;
    ctx.post_entry(&incident, entry, m).await?;
    ctx.refresh_views(incident.id, &before).await?;
    Ok(done(match &to {
        Some(to) => format!(
            "✓ Handoff posted; @{} is IC of {}.",
            to.label(),
            incident.key()
        ),
        None => format!(
            "✓ Handoff posted; @{} stays owner of {}.",
            user.label(),
            incident.key()
        ),
    }))
}

fn field(label: &str) -> Rich {
    Rich::plain(format!("{label}: "))
}

/// The handoff fields of the seeds' template for `incident`, filled from the record, with
/// `owner` (the Owner line) in its place: what `/inc handoff` posts under its headline, and
/// what a shift handoff lists for each open incident.
pub(crate) async fn fields(
    conn: &mut crate::store::Conn,
    incident: &Incident,
    owner: Rich,
) -> anyhow::Result<Vec<Rich>> {
    let refs = postmortems::refs(conn, incident.id).await?;
    let entries = timeline::all(conn, incident.id).await?;
    let impacts: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Impact)
        .map(|e| e.text.as_str())
        .collect();
    let guardrails: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Note)
        .filter_map(|e| {
            let t = e.text.trim();
            t.get(..10)
                .filter(|p| p.eq_ignore_ascii_case("guardrail:"))
                .map(|_| t[10..].trim())
        })
        .collect();
    let items = checklist::all(conn, incident.id).await?;
    let checked: Vec<String> = items
        .iter()
        .filter(|i| i.done.is_some())
        .map(|i| format!("{}. {}", i.item, i.text))
        .collect();
    let mut risks: Vec<String> = items
        .iter()
        .filter(|i| i.done.is_none())
        .map(|i| format!("checklist {}: {}", i.item, i.text))
        .collect();
    risks.extend(
        postmortems::followups(conn, incident.id)
            .await?
            .into_iter()
            .filter(|f| f.done.is_none())
            .map(|f| format!("follow-up {}: {}", f.item, f.text)),
    );
    let next = schedules::pending_for(conn, incident.id)
        .await?
        .into_iter()
        .next();

    let list = |items: &[String], none: &str| {
        if items.is_empty() {
            Rich::plain(none)
        } else {
            Rich::new().user_text(items.join("; "))
        }
    };
    Ok(vec![
        field("Incident ID").text(incident.key()),
        field("Severity").text(incident.severity.to_string()),
        field("Channel").channel(&crate::engine::render::planned(incident)),
        field("Start time (UTC)").text(long(incident.declared_at)),
        field("Current status").text(incident.status.as_str()),
        field("Correlation IDs").append(list(&refs, "none recorded (/inc ref <id>)")),
        field("Impact summary").append(list(
            &impacts.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            "not recorded (/inc impact <text>)",
        )),
        field("Guardrails confirmed").append(list(
            &guardrails
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>(),
            "none noted (/inc note guardrail: <what was confirmed>)",
        )),
        field("Verification steps done").append(list(&checked, "none ticked")),
        field("Remaining risks").append(list(&risks, "none open")),
        owner,
        match &next {
            Some(r) => field("Next decision checkpoint (UTC)").text(format!(
                "{} ({})",
                short(r.due_at),
                checkpoint(r.kind)
            )),
            None => field("Next decision checkpoint (UTC)").text("none scheduled"),
        },
    ])
}

fn checkpoint(kind: crate::store::reminders::Kind) -> &'static str {
    use crate::store::reminders::Kind;
    match kind {
        Kind::StatusUpdate => "status update due",
        Kind::Ack => "acknowledgement deadline",
        Kind::Checklist => "checklist item due",
        Kind::Followup => "follow-up due",
        Kind::Postmortem => "postmortem due",
        Kind::Archive => "channel archive due",
    }
}
