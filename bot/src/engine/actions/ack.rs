//! `/inc ack`: the responder acknowledges the page.

use klaxon_commands::{Message, Rich, UserError};

use super::common::{done, ensure_open};
use crate::clock::short;
use crate::config::Trigger;
use crate::engine::render::age;
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident) -> ActionResult {
    ensure_open(&incident, "be acknowledged")?;
    if let Some((who, at)) = &incident.acknowledged {
        return Err(UserError::new(format!(
            "Already acknowledged by @{} at {}.",
            who.label(),
            short(*at)
        ))
        .into());
    }
    let before = ctx.snapshot(&incident).await?;
    incidents::acknowledge(ctx.conn, incident.id, &ctx.inv.user, ctx.now).await?;
    crate::engine::reminders::rekey(ctx.conn, ctx.config, incident.id, ctx.now).await?;
    let user = ctx.inv.user.clone();
    crate::engine::reminders::tick(ctx.conn, &incident, Trigger::Ack, &user, ctx.now).await?;
    let after = age(incident.declared_at, ctx.now);
    let entry = ctx
        .record(
            &incident,
            EntryKind::Acknowledged,
            &format!("Acknowledged {after} after declare"),
        )
        .await?;
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(
            Rich::plain("👀 ")
                .person(&user)
                .text(format!(" acknowledged ({after} after declare).")),
        ),
    )
    .await?;
    ctx.refresh_views(incident.id, &before).await?;
    Ok(done(format!("✓ {} acknowledged.", incident.key())))
}
