//! `/inc next [answer]`: walks the started runbook's decision tree, recording every step.

use klaxon_commands::{Message, Reply, Rich, UserError};

use crate::engine::{ActionResult, Ctx};
use crate::runbooks::Node;
use crate::store::timeline::EntryKind;
use crate::store::{Incident, runbooks as attached};

pub async fn run(ctx: &mut Ctx<'_>, incident: Incident, answer: Option<String>) -> ActionResult {
    let Some((runbook_id, node)) = attached::current(ctx.conn, incident.id).await? else {
        return Err(UserError::new(format!(
            "{} has no runbook yet: `/inc runbook start <id>` first.",
            incident.key()
        ))
        .into());
    };
    let catalog = &ctx.services.catalog;
    let Some(decision) = catalog
        .runbooks
        .get(&runbook_id)
        .and_then(|r| r.decision.as_ref())
    else {
        return Err(UserError::new(format!("Runbook {runbook_id} has no decision tree.")).into());
    };
    let id = node.unwrap_or_else(|| decision.start.clone());
    let Some(current) = decision.nodes.get(&id).cloned() else {
        return Err(UserError::new(format!(
            "Runbook {runbook_id} changed; `/inc runbook start {runbook_id}` again."
        ))
        .into());
    };
    match (current, answer) {
        (Node::Question { text, answers }, None) => {
            let options: Vec<&str> = answers.iter().map(|(a, _)| a.as_str()).collect();
            Ok(Reply::ok_line(Rich::plain(format!("🧭 {text} → /inc next {}", options.join("|")))))
        }
        (Node::Question { text, answers }, Some(a)) => {
            let Some((_, next_id)) = answers.iter().find(|(choice, _)| *choice == a) else {
                let options: Vec<&str> = answers.iter().map(|(a, _)| a.as_str()).collect();
                return Err(UserError::new(format!("Answer with {}: {text}", options.join(", "))).into());
            };
            attached::set_node(ctx.conn, incident.id, &runbook_id, next_id).await?;
            let next = decision.nodes.get(next_id);
            let follow = match next {
                Some(Node::Question { text, answers }) => {
                    let options: Vec<&str> = answers.iter().map(|(a, _)| a.as_str()).collect();
                    format!("Next: {text} → /inc next {}", options.join("|"))
                }
                Some(Node::Leaf { recommend, action }) => recommendation(recommend, action.as_deref()),
                None => "The tree ends here.".to_owned(),
            };
            let entry = ctx
                .record(&incident, EntryKind::Decision, &format!("[{runbook_id}] {text} → {a}. {follow}"))
                .await?;
            let user = ctx.inv.user.clone();
            ctx.post_entry(
                &incident,
                entry,
                Message::new()
                    .line(Rich::plain("🧭 ").person(&user).text(format!(": {text} → {a}")))
                    .line(Rich::plain(follow.clone())),
            )
            .await?;
            Ok(super::common::done(format!("✓ {follow}")))
        }
        (Node::Leaf { recommend, action }, None) => Ok(Reply::ok_line(Rich::plain(format!(
            "🧭 {}",
            recommendation(&recommend, action.as_deref())
        )))),
        (Node::Leaf { recommend, .. }, Some(_)) => Err(UserError::new(format!(
            "The decision tree has ended: {recommend} `/inc runbook start {runbook_id}` starts it again."
        ))
        .into()),
    }
}

fn recommendation(recommend: &str, action: Option<&str>) -> String {
    match action {
        Some(a) => format!("Recommended: {recommend} (/inc run {a})"),
        None => format!("Recommended: {recommend}"),
    }
}
