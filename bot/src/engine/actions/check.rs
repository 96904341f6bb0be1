//! `/inc check <n>` and `/inc uncheck <n>`: tick or untick a checklist item.

use klaxon_commands::{Message, Rich, UserError};

use super::common::done;
use crate::clock::short;
use crate::engine::{ActionResult, Ctx};
use crate::store::reminders::Kind;
use crate::store::timeline::EntryKind;
use crate::store::{Incident, checklist, reminders as schedules};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, n: u32, tick: bool) -> ActionResult {
    let items = checklist::all(ctx.conn, incident.id).await?;
    let n = i64::from(n);
    let Some(item) = items.iter().find(|i| i.item == n) else {
        return Err(UserError::new(match items.len() {
            0 => format!("{} has no checklist.", incident.key()),
            len => format!(
                "{}'s checklist has {len} items; there is no item {n}.",
                incident.key()
            ),
        })
        .into());
    };
    match (&item.done, tick) {
        (Some((who, at)), true) => {
            return Err(UserError::new(format!(
                "Item {n} is already ticked (@{}, {}).",
                who.label(),
                short(*at)
            ))
            .into());
        }
        (None, false) => return Err(UserError::new(format!("Item {n} is not ticked.")).into()),
        _ => {}
    }
    let user = ctx.inv.user.clone();
    if tick {
        checklist::set_done(ctx.conn, incident.id, n, Some((&user, ctx.now))).await?;
        schedules::cancel(ctx.conn, incident.id, Kind::Checklist, Some(n)).await?;
    } else {
        checklist::set_done(ctx.conn, incident.id, n, None).await?;
        if let Some(due) = item.due_at.filter(|due| *due > ctx.now) {
            schedules::schedule(ctx.conn, incident.id, Kind::Checklist, n, due).await?;
        }
    }
    let done_count =
        items.iter().filter(|i| i.done.is_some()).count() + usize::from(tick) - usize::from(!tick);
    let (kind, verb, mark) = if tick {
        (EntryKind::Check, "Ticked", "☑️")
    } else {
        (EntryKind::Uncheck, "Unticked", "↩️")
    };
    let entry = ctx
        .record(&incident, kind, &format!("{verb} item {n}: {}", item.text))
        .await?;
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(Rich::plain(format!("{mark} ")).person(&user).text(format!(
            " {} item {n}: {} ({done_count}/{} done)",
            verb.to_lowercase(),
            item.text,
            items.len()
        ))),
    )
    .await?;
    Ok(done(format!(
        "✓ {verb} item {n} ({done_count}/{} done).",
        items.len()
    )))
}
