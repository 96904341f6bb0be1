//! `/inc followup add|list|done`: action items that feed the postmortem; an overdue one
//! reminds its owner.

use klaxon_commands::{Followup, Message, Reply, Rich, UserError};

use super::common::done;
use crate::engine::reminders::followup_overdue_at;
use crate::engine::{ActionResult, Ctx};
use crate::store::reminders::Kind;
use crate::store::timeline::EntryKind;
use crate::store::{Incident, postmortems, reminders as schedules};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, followup: Followup) -> ActionResult {
    match followup {
        Followup::Add { text, owner, due } => {
            let today = ctx.config.business_hours.date_of(ctx.now);
            if let Some(d) = due.filter(|d| *d < today) {
                return Err(UserError::new(format!(
                    "{} is in the past. Give a due date from {} on.",
                    d.format("%Y-%m-%d"),
                    today.format("%Y-%m-%d")
                ))
                .into());
            }
            let item = postmortems::add_followup(
                ctx.conn,
                incident.id,
                text.as_str(),
                owner.as_ref(),
                due,
                ctx.now,
            )
            .await?;
            if let Some(d) = due {
                let at = followup_overdue_at(ctx.config, d);
                schedules::schedule(ctx.conn, incident.id, Kind::Followup, item, at).await?;
            }
            let mut detail = String::new();
            if let Some(o) = &owner {
                detail.push_str(&format!(" · owner @{}", o.label()));
            }
            if let Some(d) = due {
                detail.push_str(&format!(" · due {}", d.format("%Y-%m-%d")));
            }
            let entry = ctx
                .record(
                    &incident,
                    EntryKind::Followup,
                    &format!("Follow-up {item}: {text}{detail}"),
                )
                .await?;
            let user = ctx.inv.user.clone();
            let mut line = Rich::plain(format!("📌 Follow-up {item} added by "))
                .person(&user)
                .text(": ")
                .user_text(text.as_str());
            if let Some(o) = &owner {
                line = line.text(" · owner ").person(o);
            }
            if let Some(d) = due {
                line = line.text(format!(" · due {}", d.format("%Y-%m-%d")));
            }
            ctx.post_entry(&incident, entry, Message::new().line(line))
                .await?;
            Ok(done(format!(
                "✓ Follow-up {item} added to {}.",
                incident.key()
            )))
        }
        Followup::List => {
            let items = postmortems::followups(ctx.conn, incident.id).await?;
            if items.is_empty() {
                return Ok(Reply::ok_line(Rich::plain(format!(
                    "{} has no follow-ups. `/inc followup add <text> @owner due YYYY-MM-DD` adds one.",
                    incident.key()
                ))));
            }
            let open = items.iter().filter(|f| f.done.is_none()).count();
            let mut m = Message::new().line(Rich::plain(format!(
                "{} follow-ups ({open} open):",
                incident.key()
            )));
            for f in &items {
                let mark = if f.done.is_some() { "✅" } else { "⬜" };
                let mut line = Rich::plain(format!("{}. {mark} ", f.item)).user_text(&f.text);
                if let Some(o) = &f.owner {
                    line = line.text(" · ").person(o);
                }
                if let Some(d) = f.due {
                    line = line.text(format!(" · due {}", d.format("%Y-%m-%d")));
                }
                m = m.line(line);
            }
            Ok(Reply::ok(m))
        }
        Followup::Done { item } => {
            let items = postmortems::followups(ctx.conn, incident.id).await?;
            let item = i64::from(item);
            let Some(f) = items.iter().find(|f| f.item == item) else {
                return Err(UserError::new(format!(
                    "{} has no follow-up {item}. `/inc followup list` shows them.",
                    incident.key()
                ))
                .into());
            };
            if let Some((who, _)) = &f.done {
                return Err(UserError::new(format!(
                    "Follow-up {item} is already done (@{}).",
                    who.label()
                ))
                .into());
            }
            let user = ctx.inv.user.clone();
            postmortems::followup_done(ctx.conn, incident.id, item, &user, ctx.now).await?;
            schedules::cancel(ctx.conn, incident.id, Kind::Followup, Some(item)).await?;
            let entry = ctx
                .record(
                    &incident,
                    EntryKind::Followup,
                    &format!("Follow-up {item} done: {}", f.text),
                )
                .await?;
            ctx.post_entry(
                &incident,
                entry,
                Message::new().line(
                    Rich::plain(format!("✅ Follow-up {item} done by "))
                        .person(&user)
                        .text(": ")
                        .user_text(&f.text),
                ),
            )
            .await?;
            Ok(done(format!("✓ Follow-up {item} done.")))
        }
    }
}
