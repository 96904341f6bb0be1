//! `/inc update`: a stakeholder update, posted in the incident channel and recorded.

use klaxon_commands::{Message, Rich, Text};

use super::common::{done, ensure_open};
use crate::config::Trigger;
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, text: Text) -> ActionResult {
    ensure_open(&incident, "take updates (use `/inc note`)")?;
    let before = ctx.snapshot(&incident).await?;
    incidents::record_update(ctx.conn, incident.id, text.as_str(), ctx.now).await?;
    crate::engine::reminders::rekey(ctx.conn, ctx.config, incident.id, ctx.now).await?;
    let user = ctx.inv.user.clone();
    crate::engine::reminders::tick(ctx.conn, &incident, Trigger::Update, &user, ctx.now).await?;
    let entry = ctx
        .record(&incident, EntryKind::Update, text.as_str())
        .await?;
    ctx.post_entry(
        &incident,
        entry,
        Message::new()
            .line(
                Rich::plain(format!(
                    "📣 Update · {} · {} · from ",
                    incident.severity, incident.status
                ))
                .person(&user),
            )
            .line(Rich::new().user_text(text.as_str())),
    )
    .await?;
    ctx.refresh_views(incident.id, &before).await?;
    Ok(done(format!("✓ Update posted to {}.", incident.key())))
}
