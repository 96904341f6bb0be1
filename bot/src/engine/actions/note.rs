//! `/inc note`: a timeline entry, also shown in the channel (slash commands are invisible to
//! others on Slack, so the note would otherwise be seen by no one).

use klaxon_commands::{Message, Rich, Text};

use super::common::done;
use crate::engine::{ActionResult, Ctx};
use crate::store::Incident;
use crate::store::timeline::EntryKind;

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, text: Text) -> ActionResult {
    let entry = ctx
        .record(&incident, EntryKind::Note, text.as_str())
        .await?;
    let user = ctx.inv.user.clone();
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(
            Rich::plain("📝 ")
                .person(&user)
                .text(": ")
                .user_text(text.as_str()),
        ),
    )
    .await?;
    Ok(done(format!("✓ Noted on {}'s timeline.", incident.key())))
}
