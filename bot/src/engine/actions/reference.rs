//! `/inc ref <id>` (`reference.rs`: `ref` is a Rust keyword): a correlation id for the handoff
//! and the postmortem.

use klaxon_commands::UserError;

use super::common::done;
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, postmortems};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, id: String) -> ActionResult {
    if !postmortems::add_ref(ctx.conn, incident.id, &id, ctx.now).await? {
        return Err(
            UserError::new(format!("`{id}` is already recorded on {}.", incident.key())).into(),
        );
    }
    ctx.record(&incident, EntryKind::Ref, &format!("Correlation id {id}"))
        .await?;
    let count = postmortems::refs(ctx.conn, incident.id).await?.len();
    let ids = if count == 1 {
        "1 id".to_owned()
    } else {
        format!("{count} ids")
    };
    Ok(done(format!(
        "✓ Recorded `{id}` ({ids} on {}).",
        incident.key()
    )))
}
