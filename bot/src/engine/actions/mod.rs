//! One action per command, named like it: `/inc resolve` ↔ `Command::Resolve` ↔ `resolve.rs`.

mod ack;
mod check;
mod checklist;
mod common;
pub(crate) mod declare;
mod escalate;
mod facts;
mod followup;
mod handoff;

pub(crate) use handoff::fields as handoff_fields;
mod help;
mod impact;
mod lesson;
mod list;
mod next;
mod note;
mod oncall;
mod postmortem;
mod reference;
mod remind;
mod reopen;
mod resolve;
mod role;
mod rootcause;
mod run;
pub(crate) use run::params_text;
mod runbook;
mod sev;
mod status;
mod summary;
mod timeline;
mod update;
mod web;

use klaxon_commands::Command;

use super::{ActionResult, Ctx};

/// Runs a command inside the caller's transaction: one arm per command. A command about an
/// incident finds it first, in the channel it was typed in (or the one its button names).
pub(crate) async fn run(ctx: &mut Ctx<'_>, command: Command) -> ActionResult {
    let name = command.name();
    match command {
        Command::Declare {
            severity,
            title,
            private,
            oncall,
        } => declare::run(ctx, severity, title, private, oncall).await,
        Command::List => list::run(ctx).await,
        Command::Oncall { oncall } => oncall::run(ctx, oncall).await,
        Command::Web => web::run(ctx).await,
        Command::Help { topic } => help::run(topic.as_deref()),
        Command::Runbook { runbook } => runbook::run(ctx, runbook).await,
        Command::Ack => {
            let incident = ctx.incident_here(name).await?;
            ack::run(ctx, incident).await
        }
        Command::Sev { severity } => {
            let incident = ctx.incident_here(name).await?;
            sev::run(ctx, incident, severity).await
        }
        Command::Status { status } => {
            let incident = ctx.incident_here(name).await?;
            status::run(ctx, incident, status).await
        }
        Command::Update { text } => {
            let incident = ctx.incident_here(name).await?;
            update::run(ctx, incident, text).await
        }
        Command::Role { role, user } => {
            let incident = ctx.incident_here(name).await?;
            role::run(ctx, incident, role, user).await
        }
        Command::Note { text } => {
            let incident = ctx.incident_here(name).await?;
            note::run(ctx, incident, text).await
        }
        Command::Timeline { limit } => {
            let incident = ctx.incident_here(name).await?;
            timeline::run(ctx, incident, limit).await
        }
        Command::Summary => {
            let incident = ctx.incident_here(name).await?;
            summary::run(ctx, incident).await
        }
        Command::Resolve { summary } => {
            let incident = ctx.incident_here(name).await?;
            resolve::run(ctx, incident, summary).await
        }
        Command::Reopen => {
            let incident = ctx.incident_here(name).await?;
            reopen::run(ctx, incident).await
        }
        Command::Escalate => {
            let incident = ctx.incident_here(name).await?;
            escalate::run(ctx, incident).await
        }
        Command::Check { item } => {
            let incident = ctx.incident_here(name).await?;
            check::run(ctx, incident, item, true).await
        }
        Command::Uncheck { item } => {
            let incident = ctx.incident_here(name).await?;
            check::run(ctx, incident, item, false).await
        }
        Command::Checklist => {
            let incident = ctx.incident_here(name).await?;
            checklist::run(ctx, incident).await
        }
        Command::Remind { remind } => {
            let incident = ctx.incident_here(name).await?;
            remind::run(ctx, incident, remind).await
        }
        Command::Postmortem { done } => {
            let incident = ctx.incident_here(name).await?;
            postmortem::run(ctx, incident, done).await
        }
        Command::Impact { text } => {
            let incident = ctx.incident_here(name).await?;
            impact::run(ctx, incident, text).await
        }
        Command::RootCause { text } => {
            let incident = ctx.incident_here(name).await?;
            rootcause::run(ctx, incident, text).await
        }
        Command::Lesson { text } => {
            let incident = ctx.incident_here(name).await?;
            lesson::run(ctx, incident, text).await
        }
        Command::Followup { followup } => {
            let incident = ctx.incident_here(name).await?;
            followup::run(ctx, incident, followup).await
        }
        Command::Handoff { to } => {
            let incident = ctx.incident_here(name).await?;
            handoff::run(ctx, incident, to).await
        }
        Command::Ref { id } => {
            let incident = ctx.incident_here(name).await?;
            reference::run(ctx, incident, id).await
        }
        Command::Next { answer } => {
            let incident = ctx.incident_here(name).await?;
            next::run(ctx, incident, answer).await
        }
        Command::Run {
            action,
            params,
            dry_run,
        } => {
            let incident = ctx.incident_here(name).await?;
            run::run(ctx, incident, action, params, dry_run).await
        }
        Command::Confirm { code } => {
            let incident = ctx.incident_here(name).await?;
            run::confirm(ctx, incident, code).await
        }
    }
}
