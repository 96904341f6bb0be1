//! `/inc impact <text>`: record the impact for the postmortem.

use klaxon_commands::Text;

use crate::engine::{ActionResult, Ctx};
use crate::store::Incident;
use crate::store::timeline::EntryKind;

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, text: Text) -> ActionResult {
    super::facts::record(ctx, incident, EntryKind::Impact, "Impact", text).await
}
