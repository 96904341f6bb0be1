//! `/inc postmortem [done]`: a new draft version from the record, shared in the channel as a
//! file; or the postmortem marked written, which stops its reminders.

use klaxon_commands::{Message, Rich, UserError};

use super::common::done;
use crate::clock::long;
use crate::engine::postmortem::gather;
use crate::engine::{ActionResult, Ctx};
use crate::store::outbox::Op;
use crate::store::reminders::Kind;
use crate::store::timeline::EntryKind;
use crate::store::{Incident, postmortems, reminders as schedules};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, mark_done: bool) -> ActionResult {
    if mark_done {
        return finish(ctx, incident).await;
    }
    let next = postmortems::get(ctx.conn, incident.id, None)
        .await?
        .map_or(1, |d| d.version + 1);
    let context = gather(ctx.conn, ctx.config, &incident, next, ctx.now).await?;
    let markdown = ctx.services.renderer.render(&context)?;
    let version =
        postmortems::add_version(ctx.conn, incident.id, ctx.now, &ctx.inv.user, &markdown).await?;
    let user = ctx.inv.user.clone();
    let actions = match context.followups.len() {
        1 => "1 action item".to_owned(),
        n => format!("{n} action items"),
    };
    let mut to_write: Vec<&str> = [
        (context.impacts.is_empty(), "impact"),
        (context.updates.is_empty(), "what happened"),
        (context.root_causes.is_empty(), "root cause"),
    ]
    .into_iter()
    .filter_map(|(empty, name)| empty.then_some(name))
    .collect();
    to_write.extend(["what went well", "what went poorly"]);
    if context.lessons.is_empty() {
        to_write.push("lessons");
    }
    ctx.record(
        &incident,
        EntryKind::Postmortem,
        &format!("Drafted the postmortem, version {version}"),
    )
    .await?;
    let comment = Message::new().line(
        Rich::plain(format!(
            "📝 Postmortem draft v{version} of {} by ",
            incident.key()
        ))
        .person(&user)
        .text(format!(
            ": {} timeline entries, {actions}. Still to write: {}.",
            context.timeline.len(),
            to_write.join(", ")
        )),
    );
    ctx.enqueue(&incident, &Op::UploadPostmortem { version, comment })
        .await?;
    Ok(done(format!(
        "✓ Postmortem draft v{version} saved. `klaxon postmortem {}` prints it.",
        incident.number
    )))
}

async fn finish(ctx: &mut Ctx<'_>, incident: Incident) -> ActionResult {
    if incident.is_open() {
        return Err(UserError::new(format!(
            "{} is still open; resolve it first, then write the postmortem.",
            incident.key()
        ))
        .into());
    }
    let (_, finished) = postmortems::due_and_done(ctx.conn, incident.id).await?;
    if let Some(at) = finished {
        return Err(UserError::new(format!(
            "{}'s postmortem was marked done at {}.",
            incident.key(),
            long(at)
        ))
        .into());
    }
    postmortems::set_done(ctx.conn, incident.id, ctx.now).await?;
    schedules::cancel(ctx.conn, incident.id, Kind::Postmortem, None).await?;
    let entry = ctx
        .record(&incident, EntryKind::Postmortem, "Postmortem marked done")
        .await?;
    let user = ctx.inv.user.clone();
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(
            Rich::plain("📝 ")
                .person(&user)
                .text(" marked the postmortem done. Thank you."),
        ),
    )
    .await?;
    Ok(done(format!(
        "✓ {}'s postmortem is done; its reminders stop.",
        incident.key()
    )))
}
