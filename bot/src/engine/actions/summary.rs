//! `/inc summary`: title, severity, status, roles, age and the last update.

use klaxon_commands::Reply;

use crate::engine::render::View;
use crate::engine::{ActionResult, Ctx};
use crate::store::{Incident, incidents};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident) -> ActionResult {
    let roles = incidents::roles(ctx.conn, incident.id).await?;
    let view = View {
        incident: &incident,
        roles: &roles,
    };
    let last = incident
        .last_update
        .as_ref()
        .map(|(at, text)| (*at, text.as_str()));
    Ok(Reply::ok(view.summary_reply(ctx.now, last)))
}
