//! `/inc remind snooze|every|off|on`: this incident's status-update reminders.

use klaxon_commands::{Message, Remind, Rich, UserError};

use super::common::{done, ensure_open};
use crate::clock::short;
use crate::engine::reminders;
use crate::engine::{ActionResult, Ctx};
use crate::store::reminders::Kind;
use crate::store::timeline::EntryKind;
use crate::store::{Incident, checklist, incidents, reminders as schedules};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, remind: Remind) -> ActionResult {
    ensure_open(&incident, "have reminders")?;
    let (text, reply) = match remind {
        Remind::Snooze(d) => {
            if incident.reminders_off {
                return Err(
                    UserError::new("Update reminders are off; `/inc remind on` first.").into(),
                );
            }
            if reminders::cadence(ctx.config, &incident).is_none() {
                return Err(no_cadence(&incident).into());
            }
            let next = crate::clock::after(ctx.now, d.as_std());
            schedules::schedule(ctx.conn, incident.id, Kind::StatusUpdate, 0, next).await?;
            (
                format!("snoozed update reminders for {d} (next at {})", short(next)),
                format!("✓ Next update reminder at {}.", short(next)),
            )
        }
        Remind::Every(d) => {
            incidents::set_reminder_settings(
                ctx.conn,
                incident.id,
                Some(d),
                incident.reminders_off,
            )
            .await?;
            let incident = reminders::rekey(ctx.conn, ctx.config, incident.id, ctx.now).await?;
            let next = next_status(ctx, &incident).await?;
            (
                format!("set update reminders every {d}{next}"),
                format!("✓ Update reminders every {d}{next}."),
            )
        }
        Remind::Off => {
            if incident.reminders_off {
                return Err(UserError::new("Update reminders are already off.").into());
            }
            incidents::set_reminder_settings(ctx.conn, incident.id, incident.update_every, true)
                .await?;
            schedules::cancel(ctx.conn, incident.id, Kind::StatusUpdate, None).await?;
            schedules::cancel(ctx.conn, incident.id, Kind::Checklist, None).await?;
            (
                "turned update reminders and checklist nudges off (escalation stays until /inc ack)".to_owned(),
                "✓ Update reminders off. `/inc remind on` brings them back.".to_owned(),
            )
        }
        Remind::On => {
            if !incident.reminders_off {
                return Err(UserError::new("Update reminders are already on.").into());
            }
            incidents::set_reminder_settings(ctx.conn, incident.id, incident.update_every, false)
                .await?;
            let incident = reminders::rekey(ctx.conn, ctx.config, incident.id, ctx.now).await?;
            for item in checklist::all(ctx.conn, incident.id).await? {
                if let (None, Some(due)) = (&item.done, item.due_at.filter(|d| *d > ctx.now)) {
                    schedules::schedule(ctx.conn, incident.id, Kind::Checklist, item.item, due)
                        .await?;
                }
            }
            let next = next_status(ctx, &incident).await?;
            (
                format!("turned update reminders on{next}"),
                format!("✓ Update reminders on{next}."),
            )
        }
    };
    let entry = ctx.record(&incident, EntryKind::Remind, &text).await?;
    let user = ctx.inv.user.clone();
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(Rich::plain("⏱️ ").person(&user).text(format!(" {text}."))),
    )
    .await?;
    Ok(done(reply))
}

/// `, next at 09:45 UTC`, or `` when no reminder is scheduled.
async fn next_status(ctx: &mut Ctx<'_>, incident: &Incident) -> anyhow::Result<String> {
    let r = schedules::get(ctx.conn, incident.id, Kind::StatusUpdate, 0).await?;
    Ok(match reminders::status_due(ctx.config, incident, ctx.now) {
        Some(_) => r.map_or_else(String::new, |r| format!(", next at {}", short(r.due_at))),
        None => String::new(),
    })
}

fn no_cadence(incident: &Incident) -> UserError {
    UserError::new(format!(
        "{} has no update reminders at {}; `/inc remind every 1h` sets some.",
        incident.key(),
        incident.severity
    ))
}
