//! `/inc lesson <text>`: record the lesson for the postmortem.

use klaxon_commands::Text;

use crate::engine::{ActionResult, Ctx};
use crate::store::Incident;

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, text: Text) -> ActionResult {
    super::facts::record(ctx, incident, "lesson", "Lesson", text).await
}
