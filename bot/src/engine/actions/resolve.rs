//! `/inc resolve [summary]`: close the incident.

use klaxon_commands::{Message, Rich, Status, Text, UserError};

use super::done;
use crate::engine::render::age;
use crate::engine::{ActionResult, Ctx};
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, summary: Option<Text>) -> ActionResult {
    if !incident.is_open() {
        return Err(UserError::new(format!("{} is already resolved.", incident.key())).into());
    }
    let summary = summary.as_ref().map(Text::as_str);
    let before = ctx.snapshot(&incident).await?;
    incidents::set_status(ctx.conn, incident.id, Status::Resolved, ctx.now, summary).await?;
    // Every pending reminder ends with the incident, in the same transaction.
    crate::store::reminders::cancel_all(ctx.conn, incident.id).await?;
    let took = age(incident.declared_at, ctx.now);
    let text = match summary {
        Some(s) => format!("Resolved after {took}: {s}"),
        None => format!("Resolved after {took}"),
    };
    let entry = ctx.record(&incident, "resolved", &text).await?;
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
    Ok(done(format!("✓ {} resolved after {took}.", incident.key())))
}
