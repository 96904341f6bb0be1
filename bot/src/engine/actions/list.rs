//! `/inc list`: open incidents of this workspace, worst first.

use klaxon_commands::{Message, Reply, Rich};

use crate::engine::render::View;
use crate::engine::{ActionResult, Ctx};
use crate::store::incidents;

pub async fn run(ctx: &mut Ctx<'_>) -> ActionResult {
    let open = incidents::open(ctx.conn, &ctx.inv.tenant).await?;
    if open.is_empty() {
        return Ok(Reply::ok_line(Rich::plain("No open incidents.")));
    }
    let mut message = Message::new().line(Rich::plain(format!("Open incidents ({}):", open.len())));
    for incident in &open {
        let roles = incidents::roles(ctx.conn, incident.id).await?;
        let view = View {
            incident,
            roles: &roles,
        };
        message = message.line(view.list_line(ctx.now));
    }
    Ok(Reply::ok(message))
}
