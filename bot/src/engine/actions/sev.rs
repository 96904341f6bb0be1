//! `/inc sev`: change severity. Allowed after resolution too, to reclassify for the postmortem.

use klaxon_commands::{Message, Rich, Severity, UserError};

use super::common::done;
use crate::engine::render::badge;
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, severity: Severity) -> ActionResult {
    if incident.severity == severity {
        return Err(UserError::new(format!("{} is already {severity}.", incident.key())).into());
    }
    let from = incident.severity;
    let before = ctx.snapshot(&incident).await?;
    incidents::set_severity(ctx.conn, incident.id, severity).await?;
    crate::engine::reminders::rekey(ctx.conn, ctx.config, incident.id, ctx.now).await?;
    let entry = ctx
        .record(
            &incident,
            EntryKind::Severity { from, to: severity },
            &format!("Severity {from} → {severity}"),
        )
        .await?;
    let user = ctx.inv.user.clone();
    let verb = if severity < from { "raised" } else { "lowered" };
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(
            Rich::plain(format!(
                "{} Severity {verb}: {from} → {severity} by ",
                badge(severity)
            ))
            .person(&user)
            .text("."),
        ),
    )
    .await?;
    if severity == Severity::Sev1 {
        let raised = Incident {
            severity,
            ..incident.clone()
        };
        let paging = ctx.config.paging_channel(&raised.tenant);
        let contact = crate::engine::reminders::owner(ctx.conn, &raised).await?;
        if let Some(page) =
            crate::engine::reminders::sev1_page(ctx.config, &raised, paging, &contact)
        {
            ctx.enqueue(&raised, &page).await?;
        }
    }
    ctx.refresh_views(incident.id, &before).await?;
    Ok(done(format!("✓ {} is now {severity}.", incident.key())))
}
