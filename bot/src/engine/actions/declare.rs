//! `/inc declare`: a new incident, its channel, its announcement and its pinned summary.

use klaxon_commands::naming::{channel_name, with_suffix};
use klaxon_commands::{Message, Reply, Rich, ScheduleRef, Severity, Title, UserRef};

use crate::engine::render::{View, planned};
use crate::engine::{ActionResult, Ctx};
use crate::store::timeline::EntryKind;

use crate::store::incidents::{self, NewIncident};
use crate::store::outbox::{Op, Target};
use crate::store::posts::PostKind;

pub async fn run(
    ctx: &mut Ctx<'_>,
    severity: Option<Severity>,
    title: Title,
    private: bool,
    oncall: Option<ScheduleRef>,
) -> ActionResult {
    let mut invite = vec![ctx.inv.user.clone()];
    // An unknown schedule or layer is refused here, before anything changes.
    let paged = match &oncall {
        Some(asked) => Some(super::oncall::on_call_now(ctx, asked).await?),
        None => None,
    };
    let on_call = paged
        .as_ref()
        .and_then(|(_, shift)| shift.as_ref())
        .map(|shift| UserRef {
            id: shift.person.clone(),
            name: None,
        });
    if let Some(who) = on_call.as_ref().filter(|who| who.id != ctx.inv.user.id) {
        invite.push(who.clone());
    }
    let (incident, mut reply) = open(ctx, severity, title, private, invite).await?;
    let Some((label, shift)) = paged else {
        return Ok(reply);
    };
    let covering = if shift.as_ref().is_some_and(|s| s.covering) {
        ", covering"
    } else {
        ""
    };
    match on_call {
        Some(who) => {
            let post = Message::new().line(
                Rich::plain("📟 ")
                    .ping(&who)
                    .text(format!(
                        ": you are on call for {label}{covering}, so you are paged for {}. /inc ack when you are on it.",
                        incident.key()
                    )),
            );
            let text = format!(
                "Invited and pinged @{} (on call for {label}{covering})",
                who.id
            );
            let kind = EntryKind::Paged {
                oncall: label.clone(),
                person: Some(who.id.clone()),
                covering: !covering.is_empty(),
            };
            let entry = ctx.record(&incident, kind, &text).await?;
            let op = Op::Post {
                to: Target::Incident,
                message: post,
                track: None,
                timeline_entry: Some(entry),
            };
            ctx.enqueue(&incident, &op).await?;
            reply.message = reply
                .message
                .line(Rich::plain("Paged ").person(&who).text(format!(
                    ", on call for {label}{covering}: invited and pinged."
                )));
        }
        None => {
            let text = format!("Nobody is on call for {label}: nobody was paged");
            let kind = EntryKind::Paged {
                oncall: label.clone(),
                person: None,
                covering: false,
            };
            ctx.record(&incident, kind, &text).await?;
            reply.message = reply.message.line(Rich::plain(format!(
                "Nobody is on call for {label} now, so nobody was paged. `/inc oncall` shows who is next."
            )));
        }
    }
    Ok(reply)
}

/// Declares an incident, inviting `invite` to its channel; the incident and the reply.
pub(crate) async fn open(
    ctx: &mut Ctx<'_>,
    severity: Option<Severity>,
    title: Title,
    private: bool,
    invite: Vec<klaxon_commands::UserRef>,
) -> Result<(crate::store::Incident, Reply), crate::engine::ActionError> {
    let severity = severity.unwrap_or(ctx.config.incidents.default_severity);
    let tenant = ctx.inv.tenant.clone();
    let number = incidents::next_number(ctx.conn, &tenant).await?;
    let limit = tenant.platform.channel_name_limit();
    let base = channel_name(
        &ctx.config.incidents.channel_prefix,
        ctx.now.date_naive(),
        title.as_str(),
        limit,
    );
    let mut n = 1;
    let channel = loop {
        let candidate = with_suffix(&base, n, limit);
        if !incidents::channel_name_used(ctx.conn, &tenant, &candidate, None).await? {
            break candidate;
        }
        n += 1;
    };
    let id = incidents::insert(
        ctx.conn,
        NewIncident {
            tenant: &tenant,
            number,
            title: title.as_str(),
            severity,
            private,
            declared_by: &ctx.inv.user,
            declared_in: ctx
                .inv
                .channel
                .id
                .as_deref()
                .unwrap_or(&ctx.inv.channel.name),
            at: ctx.now,
            channel_base: &base,
            channel: &channel,
        },
    )
    .await?;
    let incident = incidents::get(ctx.conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("incident {id} not found after insert"))?;
    ctx.record(
        &incident,
        EntryKind::Declared { severity },
        &if incident.private {
            format!("Declared {severity} (private): {title}")
        } else {
            format!("Declared {severity}: {title}")
        },
    )
    .await?;

    let view = View {
        incident: &incident,
        roles: &[],
    };
    let paging = ctx.config.paging_channel(&tenant);
    let sev1_page = crate::engine::reminders::sev1_page(
        ctx.config,
        &incident,
        paging.clone(),
        &incident.declared_by,
    );
    let mut ops = vec![
        Op::CreateChannel {
            private: incident.private,
            topic: view.topic(),
            invite,
        },
        Op::Post {
            to: Target::Channel(paging),
            message: view.announcement(),
            track: Some(PostKind::Announcement),
            timeline_entry: None,
        },
        Op::Post {
            to: Target::Incident,
            message: view.summary_post(),
            track: Some(PostKind::Summary),
            timeline_entry: None,
        },
        Op::Pin {
            kind: PostKind::Summary,
        },
    ];
    ops.extend(sev1_page);
    if let Some(checklist) =
        crate::engine::reminders::on_declare(ctx.conn, ctx.config, &incident, ctx.now).await?
    {
        ops.push(Op::Post {
            to: Target::Incident,
            message: checklist,
            track: None,
            timeline_entry: None,
        });
    }
    ctx.enqueue_each(&incident, ops).await?;

    let private = if incident.private { ", private" } else { "" };
    let reply = Reply::ok_line(
        Rich::plain(format!(
            "🚨 {} declared ({severity}{private}) → ",
            incident.key()
        ))
        .channel(&planned(&incident))
        .text(". Next: /inc ack, /inc lead @someone."),
    );
    Ok((incident, reply))
}
