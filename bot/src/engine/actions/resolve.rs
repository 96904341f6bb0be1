//! `/inc resolve [summary]`: close the incident.

use klaxon_commands::{Message, Rich, Status, Text, UserError};

use super::common::done;
use crate::engine::render::age;
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, summary: Option<Text>) -> ActionResult {
    if !incident.is_open() {
        return Err(UserError::new(format!("{} is already resolved.", incident.key())).into());
    }
    let summary = summary.as_ref().map(Text::as_str);
    let before = ctx.snapshot(&incident).await?;
    incidents::set_status(ctx.conn, incident.id, Status::Resolved, ctx.now, summary).await?;
    // The incident's reminders end with it, in the same transaction; the postmortem's begin.
    crate::store::reminders::cancel_open_phase(ctx.conn, incident.id).await?;
    let due =
        crate::engine::reminders::schedule_postmortem(ctx.conn, ctx.config, incident.id, ctx.now)
            .await?;
    crate::engine::archive::on_resolve(ctx.conn, ctx.config, &incident, ctx.now).await?;
    let took = age(incident.declared_at, ctx.now);
    let text = match summary {
        Some(s) => format!("Resolved after {took}: {s}"),
        None => format!("Resolved after {took}"),
    };
    let entry = ctx.record(&incident, EntryKind::Resolved, &text).await?;
    let user = ctx.inv.user.clone();
    let mut line = Rich::plain("✅ Resolved by ")
        .person(&user)
        .text(format!(" after {took}"));
    line = match summary {
        Some(s) => line.text(": ").user_text(s),
        None => line.text("."),
    };
    ctx.post_entry(&incident, entry, Message::new().line(line))
        .await?;
    ctx.refresh_views(incident.id, &before).await?;
    Ok(done(format!(
        "✓ {} resolved after {took}. Postmortem due by {}: /inc postmortem drafts it.",
        incident.key(),
        crate::clock::long(due)
    )))
}
