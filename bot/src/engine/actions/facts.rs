//! What `impact`, `rootcause` and `lesson` share: a timeline entry of their kind, shown in the
//! channel, that the postmortem draft gathers into its section.

use klaxon_commands::{Message, Rich, Text};

use super::common::done;
use crate::engine::{ActionResult, Ctx};
use crate::store::{Incident, timeline::EntryKind};

pub async fn record(
    ctx: &mut Ctx<'_>,
    incident: Incident,
    kind: EntryKind,
    label: &str,
    text: Text,
) -> ActionResult {
    let entry = ctx.record(&incident, kind, text.as_str()).await?;
    let user = ctx.inv.user.clone();
    ctx.post_entry(
        &incident,
        entry,
        Message::new().line(
            Rich::plain(format!("🗒️ {label} (from "))
                .person(&user)
                .text("): ")
                .user_text(text.as_str()),
        ),
    )
    .await?;
    Ok(done(format!(
        "✓ {label} recorded for {}'s postmortem.",
        incident.key()
    )))
}
