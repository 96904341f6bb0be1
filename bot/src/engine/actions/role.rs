//! `/inc role` and `/inc lead`: give someone a role; the IC is invited to the channel.

use klaxon_commands::{Message, Rich, Role, UserError, UserRef};

use super::common::{done, ensure_open};
use crate::engine::{ActionError, ActionResult, Ctx};
use crate::store::outbox::Op;
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, role: Role, user: UserRef) -> ActionResult {
    ensure_open(&incident, "change roles")?;
    let before = ctx.snapshot(&incident).await?;
    assign(ctx, &incident, role, &user).await?;
    ctx.refresh_views(incident.id, &before).await?;
    Ok(done(format!(
        "✓ @{} is {role} of {}.",
        user.label(),
        incident.key()
    )))
}

/// Gives `user` the role: recorded, invited, announced with a ping. Shared with `handoff`.
pub(super) async fn assign(
    ctx: &mut Ctx<'_>,
    incident: &Incident,
    role: Role,
    user: &UserRef,
) -> Result<(), ActionError> {
    let roles = incidents::roles(ctx.conn, incident.id).await?;
    let previous = roles
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, u)| u.clone());
    if previous.as_ref().is_some_and(|p| p.id == user.id) {
        return Err(UserError::new(format!("@{} is already {role}.", user.label())).into());
    }
    incidents::set_role(ctx.conn, incident.id, role, user, ctx.now).await?;
    let by = ctx.inv.user.clone();
    if role == Role::Ic {
        crate::engine::reminders::tick(
            ctx.conn,
            incident,
            crate::config::Trigger::Lead,
            &by,
            ctx.now,
        )
        .await?;
    }
    let was = previous
        .as_ref()
        .map_or_else(|| "unassigned".to_owned(), |p| format!("@{}", p.label()));
    let entry = ctx
        .record(
            incident,
            EntryKind::Role,
            &format!("{role}: @{} (was {was})", user.label()),
        )
        .await?;
    ctx.enqueue(
        incident,
        &Op::Invite {
            users: vec![user.clone()],
        },
    )
    .await?;
    // The new holder is pinged: they need to know the role is theirs.
    let mut line = Rich::plain("🎖️ ")
        .ping(user)
        .text(format!(" is now {role}"));
    if let Some(p) = &previous {
        line = line.text(" (was ").person(p).text(")");
    }
    ctx.post_entry(
        incident,
        entry,
        Message::new().line(line.text(", set by ").person(&by).text(".")),
    )
    .await?;
    Ok(())
}
