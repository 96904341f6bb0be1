//! `/inc escalate`: page the next tier now; the next automatic page waits a full deadline.

use klaxon_commands::Rich;

use super::common::{done, ensure_open};
use crate::engine::reminders;
use crate::engine::{ActionResult, Ctx};
use crate::store::reminders::Kind;
use crate::store::{Incident, reminders as schedules};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident) -> ActionResult {
    ensure_open(&incident, "be escalated")?;
    let user = ctx.inv.user.clone();
    let why = Rich::plain("was escalated by ").person(&user);
    let schedules = &ctx.services.schedules;
    let paged = reminders::escalate(
        ctx.conn, ctx.config, schedules, &incident, &user, why, ctx.now,
    )
    .await?;
    // The automatic escalation restarts its clock from this page.
    if let Some(r) = schedules::get(ctx.conn, incident.id, Kind::Ack, 0).await? {
        let incident = crate::store::incidents::get(ctx.conn, incident.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("incident vanished"))?;
        let next = reminders::ack_due(ctx.config, &incident, Some(ctx.now), ctx.now);
        schedules::fired(ctx.conn, r.id, ctx.now, next).await?;
    }
    ctx.mark_queued();
    let tier = paged.tier;
    let nobody = if paged.skipped.is_empty() {
        String::new()
    } else {
        format!(" Nobody is on call for {}.", paged.skipped.join(", "))
    };
    Ok(
        if ctx
            .config
            .tiers(&incident.tenant, incident.severity)
            .is_empty()
        {
            done(format!(
                "✓ {} escalated to tier {tier}, but no tiers are configured ([escalation] in klaxon.toml).",
                incident.key()
            ))
        } else if paged.who.0.is_empty() {
            done(format!(
                "✓ {} escalated, but nobody is paged:{nobody}",
                incident.key()
            ))
        } else {
            done(format!(
                "✓ Paged tier {tier}: {}.{nobody}",
                paged.who.to_plain()
            ))
        },
    )
}
