//! `/inc timeline [N]`: the last N entries, oldest first, with UTC times.

use klaxon_commands::{Message, Reply, Rich};

use crate::clock::short;
use crate::engine::{ActionResult, Ctx};
use crate::store::{Incident, timeline};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, limit: u32) -> ActionResult {
    let entries = timeline::last(ctx.conn, incident.id, limit).await?;
    let mut message = Message::new().line(Rich::plain(format!(
        "{} timeline (last {}):",
        incident.key(),
        entries.len()
    )));
    for e in &entries {
        message = message.line(
            Rich::plain(format!("{} · ", short(e.at)))
                .person(&e.actor)
                .text(format!(" · {} · ", e.kind.word()))
                .user_text(&e.text),
        );
    }
    Ok(Reply::ok(message))
}
