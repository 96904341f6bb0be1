//! `/inc reopen`: a resolved incident goes back to triage.

use klaxon_commands::{Message, Rich, Status, UserError};

use super::common::done;
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident) -> ActionResult {
    if incident.is_open() {
        return Err(UserError::new(format!(
            "{} is still open ({}); only a resolved incident can be reopened.",
            incident.key(),
            incident.status
        ))
        .into());
    }
    let before = ctx.snapshot(&incident).await?;
    incidents::set_status(ctx.conn, incident.id, Status::Triage, ctx.now, None).await?;
    crate::engine::reminders::rekey(ctx.conn, ctx.config, incident.id, ctx.now).await?;
    crate::engine::reminders::cancel_postmortem(ctx.conn, incident.id).await?;
    let back = crate::engine::archive::on_reopen(ctx.conn, &incident, ctx.now).await?;
    let entry = ctx
        .record(&incident, EntryKind::Reopened, "Reopened; back in triage")
        .await?;
    let user = ctx.inv.user.clone();
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(
            Rich::plain("↩️ Reopened by ")
                .person(&user)
                .text("; back in triage."),
        ),
    )
    .await?;
    ctx.refresh_views(incident.id, &before).await?;
    let back = back.map_or_else(String::new, |b| format!(" {b}"));
    Ok(done(format!("✓ {} reopened.{back}", incident.key())))
}
