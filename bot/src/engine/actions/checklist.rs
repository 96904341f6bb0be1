//! `/inc checklist`: progress of the incident's checklist.

use klaxon_commands::{Reply, Rich};

use crate::engine::reminders::checklist_message;
use crate::engine::{ActionResult, Ctx};
use crate::store::{Incident, checklist};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident) -> ActionResult {
    let items = checklist::all(ctx.conn, incident.id).await?;
    if items.is_empty() {
        return Ok(Reply::ok_line(Rich::plain(format!(
            "{} has no checklist.",
            incident.key()
        ))));
    }
    Ok(Reply::ok(checklist_message(
        &incident, &items, ctx.now, false,
    )))
}
