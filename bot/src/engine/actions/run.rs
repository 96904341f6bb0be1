//! `/inc run <action> [name=value ...] [--dry-run]` and `/inc confirm <code>`: runbook actions
//! behind their guardrails.
//!
//! Fail closed: an unknown action, a user without the role, an incident below the action's
//! severity, a bad parameter, a host outside the allow-list, a missing secret or an unconfirmed
//! request sends nothing, and the user is told why. Every attempt, refused or sent, is audited
//! on the timeline (secrets masked). A confirmation is claimed in the database before the
//! request is sent, so a double click or a platform retry never sends it twice. A send is
//! answered at once ("Sending …"); `engine::execute` makes the request after the commit and
//! posts the outcome.

use klaxon_commands::{Message, Reply, Rich, UserError};

use super::common::done;
use crate::clock::short;
use crate::engine::{ActionResult, Ctx, Execution};
use crate::runbooks::Action;
use crate::runbooks::request::{self, IncidentVars};
use crate::store::timeline::EntryKind;
use crate::store::{Incident, incidents, runbooks as runs};

/// ` name=value …` as shown in the audit (values quoted when they have spaces).
pub(crate) fn params_text(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(n, v)| {
            if v.is_empty() || v.contains(char::is_whitespace) || v.contains('"') {
                format!(" {n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                format!(" {n}={v}")
            }
        })
        .collect()
}

/// Records a refusal on the timeline (committed) and tells the user why.
async fn refuse(ctx: &mut Ctx<'_>, incident: &Incident, what: &str, why: String) -> ActionResult {
    ctx.record(
        incident,
        EntryKind::Action,
        &format!("Refused {what}: {why}"),
    )
    .await?;
    Ok(Reply::user_error(&UserError::new(format!(
        "Not run: {why}"
    ))))
}

/// Who may run it and at what severity; the parameters; the rendered request.
async fn guard(
    ctx: &mut Ctx<'_>,
    incident: &Incident,
    action: &Action,
    given: &[(String, String)],
) -> anyhow::Result<Result<request::Prepared, String>> {
    let user = &ctx.inv.user;
    let roles = incidents::roles(ctx.conn, incident.id).await?;
    let held: Vec<_> = roles
        .iter()
        .filter(|(_, u)| u.id == user.id)
        .map(|(r, _)| *r)
        .collect();
    let allowed = action.allowed_users.contains(&user.id)
        || held.iter().any(|r| action.allowed_roles.contains(r));
    if !allowed {
        let mut who: Vec<String> = action
            .allowed_roles
            .iter()
            .map(|r| format!("the {r}"))
            .collect();
        if !action.allowed_users.is_empty() {
            who.push("its listed users".to_owned());
        }
        return Ok(Err(format!(
            "@{} may not run {}; it needs {}.",
            user.label(),
            action.name,
            who.join(" or ")
        )));
    }
    if let Some(min) = action.min_severity
        && incident.severity > min
    {
        return Ok(Err(format!(
            "{} runs only at {min} or worse; {} is {}.",
            action.name,
            incident.key(),
            incident.severity
        )));
    }
    let values = match request::params(action, given) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let vars = IncidentVars {
        key: incident.key(),
        severity: incident.severity.to_string(),
        channel: incident.channel_name.clone(),
    };
    Ok(request::prepare(
        action,
        &values,
        &vars,
        &ctx.config.runbooks.allowed_hosts,
        ctx.services.secrets.as_ref(),
    ))
}

pub async fn run(
    ctx: &mut Ctx<'_>,
    incident: Incident,
    name: String,
    given: Vec<(String, String)>,
    dry_run: bool,
) -> ActionResult {
    let what = format!("{name}{}", params_text(&given));
    let Some(action) = ctx.services.catalog.actions.get(&name).cloned() else {
        let names: Vec<&str> = ctx
            .services
            .catalog
            .actions
            .keys()
            .map(String::as_str)
            .collect();
        let known = if names.is_empty() {
            "none are loaded".to_owned()
        } else {
            names.join(", ")
        };
        return refuse(
            ctx,
            &incident,
            &what,
            format!("there is no action `{name}` (actions: {known})."),
        )
        .await;
    };
    let prepared = match guard(ctx, &incident, &action, &given).await? {
        Ok(p) => p,
        Err(why) => return refuse(ctx, &incident, &what, why).await,
    };
    let preview = prepared.preview();
    if dry_run {
        ctx.record(
            &incident,
            EntryKind::Action,
            &format!("Dry run of {what}: nothing sent"),
        )
        .await?;
        return Ok(Reply::ok(
            Message::new()
                .line(Rich::plain(format!(
                    "Dry run of {} — this is what would be sent (nothing was):",
                    action.name
                )))
                .line(Rich::new().user_text(preview)),
        ));
    }
    let user = ctx.inv.user.clone();
    if action.confirm {
        let code = confirmation_code();
        let expires = crate::clock::after(ctx.now, ctx.config.runbooks.confirm_within.as_std());
        runs::add_run(
            ctx.conn,
            incident.id,
            &action.name,
            &given,
            &user,
            ctx.now,
            Some(&code),
            Some(expires),
        )
        .await?;
        let entry = ctx
            .record(
                &incident,
                EntryKind::Action,
                &format!(
                    "Requested {what}; awaiting confirmation until {}",
                    short(expires)
                ),
            )
            .await?;
        ctx.post_entry(
            &incident,
            entry,
            Message::new()
                .line(
                    Rich::plain("⚠️ ")
                        .person(&user)
                        .text(format!(" asks to run {} ({})", action.name, action.title))
                        .user_text(params_text(&given))
                        .text(format!(
                            ". /inc confirm {code} before {} to send it.",
                            short(expires)
                        )),
                )
                .button(klaxon_commands::Button {
                    action: klaxon_commands::ButtonAction::Confirm,
                    label: format!("Confirm {}", action.name),
                    incident: incident.number,
                    danger: true,
                    confirm: Some(format!("Send {} ({}) now?", action.name, action.title)),
                    code: Some(code.clone()),
                }),
        )
        .await?;
        return Ok(Reply::ok(
            Message::new()
                .line(Rich::plain(format!("{} will send:", action.name)))
                .line(Rich::new().user_text(preview))
                .line(Rich::plain(format!(
                    "Confirm with /inc confirm {code} before {}.",
                    short(expires)
                ))),
        ));
    }
    let run_id = runs::add_run(
        ctx.conn,
        incident.id,
        &action.name,
        &given,
        &user,
        ctx.now,
        None,
        None,
    )
    .await?;
    ctx.execution = Some(Execution {
        run_id,
        incident,
        action: action.name.clone(),
        params_text: params_text(&given),
        prepared,
    });
    Ok(sending(&action.name))
}

pub async fn confirm(ctx: &mut Ctx<'_>, incident: Incident, code: String) -> ActionResult {
    let Some(run) = runs::by_code(ctx.conn, incident.id, &code).await? else {
        return Err(UserError::new(format!(
            "No action in {} waits for code {code}.",
            incident.key()
        ))
        .into());
    };
    let what = format!("{}{} (code {code})", run.action, params_text(&run.params));
    if run.state != "awaiting" {
        return refuse(
            ctx,
            &incident,
            &what,
            format!("code {code} was already used; run the action again for a new one."),
        )
        .await;
    }
    if run.expires_at.is_some_and(|at| ctx.now > at) {
        runs::finish(
            ctx.conn,
            run.id,
            false,
            None,
            None,
            None,
            "confirmation expired",
            ctx.now,
        )
        .await?;
        return refuse(
            ctx,
            &incident,
            &what,
            format!("code {code} expired; run the action again for a new one."),
        )
        .await;
    }
    let Some(action) = ctx.services.catalog.actions.get(&run.action).cloned() else {
        runs::finish(
            ctx.conn,
            run.id,
            false,
            None,
            None,
            None,
            "action no longer loaded",
            ctx.now,
        )
        .await?;
        return refuse(
            ctx,
            &incident,
            &what,
            format!("the action {} is no longer loaded.", run.action),
        )
        .await;
    };
    // The confirmer must be allowed too, and everything is checked again now.
    let prepared = match guard(ctx, &incident, &action, &run.params).await? {
        Ok(p) => p,
        Err(why) => return refuse(ctx, &incident, &what, why).await,
    };
    let user = ctx.inv.user.clone();
    if !runs::claim(ctx.conn, run.id, &user).await? {
        return refuse(
            ctx,
            &incident,
            &what,
            format!("code {code} was already used."),
        )
        .await;
    }
    ctx.record(&incident, EntryKind::Action, &format!("Confirmed {what}"))
        .await?;
    ctx.execution = Some(Execution {
        run_id: run.id,
        incident,
        action: action.name.clone(),
        params_text: params_text(&run.params),
        prepared,
    });
    Ok(sending(&action.name))
}

/// The answer to a run that will be sent: given before the request is made (so a platform's
/// deadline never waits for the target), the outcome follows as a post in the channel.
fn sending(action: &str) -> Reply {
    done(format!(
        "Sending {action} now; its outcome will be posted in this channel."
    ))
}

/// Six characters without look-alikes (no 0/O, 1/I).
fn confirmation_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(6)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}
