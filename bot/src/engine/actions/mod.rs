//! One action per command, named like it: `/inc resolve` ↔ `Command::Resolve` ↔ `resolve.rs`.

mod ack;
mod check;
mod checklist;
pub(crate) mod declare;
mod escalate;
mod facts;
mod followup;
mod handoff;
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

use klaxon_commands::{Command, Message, Rich, UserError};

use super::{ActionResult, Ctx};
use crate::store::Incident;

/// Runs a command inside the caller's transaction.
pub(crate) async fn run(ctx: &mut Ctx<'_>, command: Command) -> ActionResult {
    match command {
        Command::Declare {
            severity,
            title,
            private,
        } => declare::run(ctx, severity, title, private).await,
        Command::List => list::run(ctx).await,
        Command::Oncall { oncall } => oncall::run(ctx, oncall).await,
        Command::Help { topic } => help::run(topic.as_deref()),
        Command::Runbook { runbook } => runbook::run(ctx, runbook).await,
        ref incident_command => {
            let incident = ctx.incident_here(incident_command).await?;
            match command {
                Command::Ack => ack::run(ctx, incident).await,
                Command::Sev { severity } => sev::run(ctx, incident, severity).await,
                Command::Status { status } => status::run(ctx, incident, status).await,
                Command::Update { text } => update::run(ctx, incident, text).await,
                Command::Role { role, user } => role::run(ctx, incident, role, user).await,
                Command::Note { text } => note::run(ctx, incident, text).await,
                Command::Timeline { limit } => timeline::run(ctx, incident, limit).await,
                Command::Summary => summary::run(ctx, incident).await,
                Command::Resolve { summary } => resolve::run(ctx, incident, summary).await,
                Command::Reopen => reopen::run(ctx, incident).await,
                Command::Escalate => escalate::run(ctx, incident).await,
                Command::Check { item } => check::run(ctx, incident, item, true).await,
                Command::Uncheck { item } => check::run(ctx, incident, item, false).await,
                Command::Checklist => checklist::run(ctx, incident).await,
                Command::Remind { remind } => remind::run(ctx, incident, remind).await,
                Command::Postmortem { done } => postmortem::run(ctx, incident, done).await,
                Command::Impact { text } => impact::run(ctx, incident, text).await,
                Command::RootCause { text } => rootcause::run(ctx, incident, text).await,
                Command::Lesson { text } => lesson::run(ctx, incident, text).await,
                Command::Followup { followup } => followup::run(ctx, incident, followup).await,
                Command::Handoff { to } => handoff::run(ctx, incident, to).await,
                Command::Ref { id } => reference::run(ctx, incident, id).await,
                Command::Next { answer } => next::run(ctx, incident, answer).await,
                Command::Run {
                    action,
                    params,
                    dry_run,
                } => run::run(ctx, incident, action, params, dry_run).await,
                Command::Confirm { code } => run::confirm(ctx, incident, code).await,
                Command::Declare { .. }
                | Command::List
                | Command::Oncall { .. }
                | Command::Help { .. }
                | Command::Runbook { .. } => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

/// Refuses a change to a resolved incident.
fn ensure_open(incident: &Incident, what: &str) -> Result<(), UserError> {
    if incident.is_open() {
        Ok(())
    } else {
        Err(UserError::new(format!(
            "{} is resolved, so it cannot {what}. `/inc reopen` it first.",
            incident.key()
        )))
    }
}

/// A one-line confirmation for the person who asked.
fn done(text: impl Into<String>) -> klaxon_commands::Reply {
    klaxon_commands::Reply::ok(Message::new().line(Rich::plain(text)))
}
