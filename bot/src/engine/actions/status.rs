//! `/inc status`: move between triage, contained and recovering; `resolved` resolves.
//!
//! Any move between open states is allowed (an incident can relapse); a resolved incident
//! must be reopened first, and a move to the current state is refused.

use klaxon_commands::{Message, Rich, Status, UserError};

use super::common::{done, ensure_open};
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, status: Status) -> ActionResult {
    if status == Status::Resolved {
        return super::resolve::run(ctx, incident, None).await;
    }
    ensure_open(&incident, "change status")?;
    if incident.status == status {
        return Err(UserError::new(format!("{} is already {status}.", incident.key())).into());
    }
    let from = incident.status;
    let before = ctx.snapshot(&incident).await?;
    incidents::set_status(ctx.conn, incident.id, status, ctx.now, None).await?;
    let entry = ctx
        .record(
            &incident,
            EntryKind::Status { from, to: status },
            &format!("Status {from} → {status}"),
        )
        .await?;
    let user = ctx.inv.user.clone();
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(
            Rich::plain(format!("🔁 Status: {from} → {status} by "))
                .person(&user)
                .text("."),
        ),
    )
    .await?;
    ctx.refresh_views(incident.id, &before).await?;
    Ok(done(format!("✓ {} is now {status}.", incident.key())))
}
