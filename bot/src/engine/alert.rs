//! Alerts in the engine: announce, deduplicate by fingerprint, declare (by rule or by the
//! "Declare incident" button), and follow a resolved alert onto its incident's timeline.
//!
//! One intake request is one `BEGIN IMMEDIATE` transaction, like one command: the alert rows,
//! any incidents declared, their timeline entries and every platform call commit together.

use std::collections::{BTreeMap, BTreeSet};

use klaxon_commands::{
    Button, ButtonAction, ChannelRef, Input, Invocation, Message, PlatformKind, Reply, Rich, Title,
    UserError, UserRef,
};

use super::actions::declare;
use super::render::planned;
use super::{ActionError, ActionResult, Ctx, Engine};
use crate::alerts::{Alert, AlertStatus, Outcome, Routed, Target};
use crate::clock::short;
use crate::store::outbox::{self, Op};
use crate::store::{self, Incident, alerts::NewAlert, timeline::EntryKind};

/// Who acts when an alert does something by itself (a rule's declare, a resolved entry).
fn actor(source: &str) -> UserRef {
    UserRef::named(format!("alert:{source}"), source)
}

impl Engine {
    /// Records a batch of alerts from one request and queues what they show, in one
    /// transaction. Routes to platforms outside `platforms` are skipped with a warning.
    pub async fn ingest_alerts(
        &self,
        endpoint: &'static str,
        alerts: Vec<Alert>,
        platforms: &BTreeSet<PlatformKind>,
    ) -> anyhow::Result<Outcome> {
        let mut outcome = Outcome {
            received: alerts.len(),
            ..Outcome::default()
        };
        for a in &alerts {
            crate::metrics::alert_received(endpoint, a.status == AlertStatus::Firing);
        }
        let routed = self.config.alerts.route(alerts, platforms, &mut outcome);
        if routed.is_empty() {
            return Ok(outcome);
        }
        let mut tx = self.store.begin().await?;
        let now = self.clock.now();
        let mut queued = false;
        for r in &routed {
            for target in &r.targets {
                let inv = Invocation {
                    tenant: target.tenant(),
                    channel: ChannelRef::new(&target.channel, &target.channel),
                    user: actor(&r.alert.source),
                    input: Input::Text(String::new()),
                    incident: None,
                    delivery_id: None,
                };
                let mut ctx = Ctx {
                    conn: &mut tx,
                    inv: &inv,
                    now,
                    config: &self.config,
                    services: &self.services,
                    queued: false,
                    execution: None,
                    replay: None,
                };
                let done = one(&mut ctx, endpoint, r, target, &mut outcome).await;
                queued |= ctx.queued;
                done.map_err(|e| match e {
                    ActionError::Internal(e) => e,
                    ActionError::User(u) => anyhow::anyhow!("{}", u.text()),
                })?;
            }
        }
        tx.commit().await?;
        if queued {
            self.outbox_wake.notify_one();
        }
        self.scheduler_wake.notify_one();
        tracing::info!(
            endpoint,
            received = outcome.received,
            announced = outcome.announced,
            deduplicated = outcome.deduplicated,
            resolved = outcome.resolved,
            declared = outcome.declared,
            "alerts recorded"
        );
        Ok(outcome)
    }
}

/// One alert in one paging channel.
async fn one(
    ctx: &mut Ctx<'_>,
    endpoint: &str,
    r: &Routed,
    target: &Target,
    outcome: &mut Outcome,
) -> Result<(), ActionError> {
    let tenant = ctx.inv.tenant.clone();
    let alert = &r.alert;
    let existing =
        store::alerts::find(ctx.conn, &tenant, &target.channel, &alert.fingerprint).await?;
    match (existing, alert.status) {
        (None, AlertStatus::Resolved) => {
            tracing::info!(fingerprint = %alert.fingerprint, "resolved alert never seen firing; ignored");
            outcome.ignored += 1;
        }
        (None, AlertStatus::Firing) => {
            let id = store::alerts::insert(
                ctx.conn,
                NewAlert {
                    tenant: &tenant,
                    channel_id: &target.channel,
                    fingerprint: &alert.fingerprint,
                    source: &alert.source,
                    title: &alert.title,
                    summary: alert.summary.as_deref(),
                    severity: r.severity,
                    labels: &alert.labels,
                    link: alert.link.as_deref(),
                    auto_declare: r.auto_declare,
                    at: ctx.now,
                },
            )
            .await?;
            let row = get(ctx, id).await?;
            let incident = if r.auto_declare {
                let (incident, _) = declare_from(ctx, &row, Vec::new()).await?;
                outcome.declared += 1;
                Some(incident)
            } else {
                None
            };
            let row = get(ctx, id).await?;
            ctx.mark_queued();
            outbox::enqueue(
                ctx.conn,
                &tenant,
                None,
                &Op::PostAlert {
                    alert: id,
                    channel: ChannelRef::new(&target.channel, &target.channel),
                    message: announcement(&row, incident.as_ref()),
                },
                ctx.now,
            )
            .await?;
            outcome.announced += 1;
        }
        (Some(row), AlertStatus::Firing) => {
            crate::metrics::alert_deduplicated(endpoint);
            outcome.deduplicated += 1;
            store::alerts::fired_again(ctx.conn, row.id, ctx.now).await?;
            if !row.firing {
                follow(ctx, &row, "Alert firing again").await?;
            }
            edit(ctx, row.id).await?;
        }
        (Some(row), AlertStatus::Resolved) => {
            if row.firing {
                store::alerts::resolve(ctx.conn, row.id, ctx.now).await?;
                follow(ctx, &row, "Alert resolved").await?;
                edit(ctx, row.id).await?;
                outcome.resolved += 1;
            } else {
                crate::metrics::alert_deduplicated(endpoint);
                outcome.deduplicated += 1;
            }
        }
    }
    Ok(())
}

async fn get(ctx: &mut Ctx<'_>, id: i64) -> anyhow::Result<store::alerts::Alert> {
    store::alerts::get(ctx.conn, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("alert {id} vanished"))
}

/// A timeline entry (posted in the incident channel) on the alert's incident, if it has one.
async fn follow(ctx: &mut Ctx<'_>, row: &store::alerts::Alert, what: &str) -> anyhow::Result<()> {
    let Some(incident_id) = row.incident_id else {
        return Ok(());
    };
    let Some(incident) = store::incidents::get(ctx.conn, incident_id).await? else {
        return Ok(());
    };
    let text = format!("{what}: {}", row.title);
    let entry = store::timeline::append(
        ctx.conn,
        incident.id,
        ctx.now,
        &actor(&row.source),
        &EntryKind::Alert,
        &text,
    )
    .await?;
    let mark = if what.ends_with("resolved") {
        "✅"
    } else {
        "🔥"
    };
    let message = Message::new().line(
        Rich::plain(format!("{mark} {what} ({}): ", row.source)).user_text(row.title.clone()),
    );
    ctx.post_entry(&incident, entry, message).await
}

/// Queues an edit of the alert's announcement to show its state now.
async fn edit(ctx: &mut Ctx<'_>, id: i64) -> anyhow::Result<()> {
    let row = get(ctx, id).await?;
    let incident = match row.incident_id {
        Some(i) => store::incidents::get(ctx.conn, i).await?,
        None => None,
    };
    ctx.mark_queued();
    // A burst of notifications is one edit: the newest replaces pending ones.
    store::alerts::supersede_edits(ctx.conn, id, ctx.now).await?;
    let op = Op::EditAlert {
        alert: id,
        message: announcement(&row, incident.as_ref()),
    };
    store::outbox::enqueue(ctx.conn, &row.tenant, None, &op, ctx.now).await?;
    Ok(())
}

/// Declares an incident from an alert: its title and severity; the alert is linked and the
/// incident records it as "detected by".
async fn declare_from(
    ctx: &mut Ctx<'_>,
    row: &store::alerts::Alert,
    invite: Vec<UserRef>,
) -> Result<(Incident, Reply), ActionError> {
    let title = Title::parse(&row.title).or_else(|_| Title::parse("Alert"))?;
    let (incident, reply) = declare::open(ctx, Some(row.severity), title, false, invite).await?;
    store::alerts::link(ctx.conn, row.id, incident.id).await?;
    let kind = EntryKind::Detected {
        source: row.source.clone(),
        fingerprint: row.fingerprint.clone(),
        labels: row.labels.clone(),
        link: row.link.clone(),
    };
    store::timeline::append(
        ctx.conn,
        incident.id,
        ctx.now,
        &actor(&row.source),
        &kind,
        &detected_by(row),
    )
    .await?;
    Ok((incident, reply))
}

/// "alertmanager alert HighErrorRate: … (alertname=…, severity=…) https://…"
pub(crate) fn detected_by(row: &store::alerts::Alert) -> String {
    let mut text = format!("{} alert \"{}\"", row.source, row.title);
    if !row.labels.is_empty() {
        text.push_str(&format!(" ({})", labels(&row.labels)));
    }
    if let Some(link) = &row.link {
        text.push(' ');
        text.push_str(link);
    }
    text
}

fn labels(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A click on "Declare incident": declare from the alert, once.
pub(crate) async fn declare_clicked(ctx: &mut Ctx<'_>, alert_id: i64) -> ActionResult {
    let row = store::alerts::get(ctx.conn, alert_id)
        .await?
        .filter(|a| a.tenant == ctx.inv.tenant)
        .ok_or_else(|| UserError::new("That alert is not known here."))?;
    if let Some(incident_id) = row.incident_id
        && let Some(incident) = store::incidents::get(ctx.conn, incident_id).await?
    {
        let declared = Rich::plain(format!(
            "{} was already declared from this alert",
            incident.key()
        ));
        return Ok(Reply::ok_line(if incident.private {
            declared.text(" (a private incident).")
        } else {
            declared.text(" → ").channel(&planned(&incident)).text(".")
        }));
    }
    let (_, reply) = declare_from(ctx, &row, vec![ctx.inv.user.clone()]).await?;
    edit(ctx, row.id).await?;
    Ok(reply)
}

/// The announcement of an alert in its paging channel. Every word from the alert is user text.
pub(crate) fn announcement(a: &store::alerts::Alert, incident: Option<&Incident>) -> Message {
    let head = if a.firing {
        "🔥 Firing"
    } else {
        "✅ Resolved"
    };
    let mut m = Message::new().line(
        Rich::new()
            .strong(format!("{head} · {} · ", a.severity))
            .user_text(a.title.clone()),
    );
    if let Some(summary) = &a.summary {
        m = m.line(Rich::new().user_text(summary.clone()));
    }
    m = m.field("Source", Rich::new().user_text(a.source.clone()));
    if !a.labels.is_empty() {
        m = m.field("Labels", Rich::new().user_text(labels(&a.labels)));
    }
    let seen = if a.fired <= 1 {
        format!("since {}", short(a.first_seen))
    } else {
        format!(
            "{} times, first {}, last {}",
            a.fired,
            short(a.first_seen),
            short(a.last_seen)
        )
    };
    m = m.field("Seen", Rich::plain(seen));
    if let Some(at) = a.resolved_at {
        m = m.field("Resolved", Rich::plain(short(at)));
    }
    if let Some(link) = &a.link {
        m = m.field("Link", Rich::new().user_text(link.clone()));
    }
    match incident {
        // Alerts declare public incidents; should one be private, its channel stays unnamed.
        Some(i) if i.private => m.field(
            "Incident",
            Rich::plain(format!("{} (private incident)", i.key())),
        ),
        Some(i) => m.field(
            "Incident",
            Rich::plain(format!("{} → ", i.key())).channel(&planned(i)),
        ),
        None if a.firing => m.button(Button {
            action: ButtonAction::Declare,
            label: "Declare incident".to_owned(),
            incident: 0,
            danger: false,
            confirm: None,
            code: Some(a.id.to_string()),
        }),
        None => m.field("Incident", Rich::plain("none declared")),
    }
}
