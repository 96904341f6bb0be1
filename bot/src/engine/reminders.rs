//! Reminder rules: when each schedule is due, and what changes it.
//!
//! Every rule runs inside the transaction of the command that changed the incident, so a
//! schedule is never out of step with the state it is computed from. The [`crate::scheduler`]
//! fires what is due.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{ChannelRef, Message, Rich, UserRef};

use crate::clock::short;
use crate::config::{AckTarget, Config, Trigger};
use crate::engine::render::age;
use crate::oncall::{Schedules, TIER_PREFIX, Tier};
use crate::store::outbox::{self, Op, Target};
use crate::store::reminders::Kind;
use crate::store::{self, Incident, timeline::EntryKind};

/// The actor Klaxon records for what it does by itself.
pub fn klaxon() -> UserRef {
    UserRef::named("klaxon", "klaxon")
}

/// `t + d` for a duration from a person or the config file, without overflow.
fn plus(t: DateTime<Utc>, d: klaxon_commands::Duration) -> DateTime<Utc> {
    crate::clock::after(t, d.as_std())
}

/// How often this incident owes a status update, if at all.
pub fn cadence(config: &Config, incident: &Incident) -> Option<klaxon_commands::Duration> {
    incident
        .update_every
        .or(config.ladder(incident.severity).update_every)
}

/// When the last update was posted, or the incident declared.
fn last_update_or_declare(incident: &Incident) -> DateTime<Utc> {
    incident
        .last_update
        .as_ref()
        .map_or(incident.declared_at, |(at, _)| *at)
}

/// The next status-update reminder: last update (or declare) plus the cadence, and never in
/// the past, so a raised severity reminds at once instead of waiting out the old cadence.
pub fn status_due(
    config: &Config,
    incident: &Incident,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !incident.is_open() || incident.reminders_off {
        return None;
    }
    let every = cadence(config, incident)?;
    Some(plus(last_update_or_declare(incident), every).max(now))
}

/// The next escalation: the acknowledgement target after declare (or after the last page).
pub fn ack_due(
    config: &Config,
    incident: &Incident,
    last_page: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if !incident.is_open() || incident.acknowledged.is_some() {
        return None;
    }
    let base = last_page.unwrap_or(incident.declared_at);
    let due = match config.ladder(incident.severity).ack_within {
        AckTarget::Within(d) => plus(base, d),
        AckTarget::NextBusinessDay => config.business_hours.next_business_day(base),
    };
    Some(due.max(now))
}

/// Re-reads the incident and sets its status and acknowledgement schedules from its state.
pub async fn rekey(
    conn: &mut Conn,
    config: &Config,
    incident_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<Incident> {
    let incident = store::incidents::get(conn, incident_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("incident {incident_id} vanished"))?;
    match status_due(config, &incident, now) {
        Some(due) => {
            store::reminders::schedule(conn, incident.id, Kind::StatusUpdate, 0, due).await?
        }
        None => store::reminders::cancel(conn, incident.id, Kind::StatusUpdate, None).await?,
    }
    let last_page = store::reminders::get(conn, incident.id, Kind::Ack, 0)
        .await?
        .and_then(|r| r.last_fired_at);
    match ack_due(config, &incident, last_page, now) {
        Some(due) => store::reminders::schedule(conn, incident.id, Kind::Ack, 0, due).await?,
        None => store::reminders::cancel(conn, incident.id, Kind::Ack, None).await?,
    }
    Ok(incident)
}

/// At declare: the schedules, the checklist and its nudges. Returns the checklist to post.
/// What [`rekey`] and adding the items one by one would do, in a statement per table: a new
/// incident has no schedules yet and has never paged.
pub async fn on_declare(
    conn: &mut Conn,
    config: &Config,
    incident: &Incident,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Message>> {
    let mut schedules = Vec::new();
    if let Some(due) = status_due(config, incident, now) {
        schedules.push((incident.id, Kind::StatusUpdate, 0, due));
    }
    if let Some(due) = ack_due(config, incident, None, now) {
        schedules.push((incident.id, Kind::Ack, 0, due));
    }
    let mut items = Vec::new();
    for (n, item) in (1..).zip(config.checklist()) {
        let due = item.due.map(|d| plus(incident.declared_at, d));
        let done = (item.ticked_by == Some(Trigger::Declare)).then(|| (klaxon(), now));
        if let (None, Some(due)) = (&done, due) {
            schedules.push((incident.id, Kind::Checklist, n, due));
        }
        items.push(store::checklist::Item {
            item: n,
            text: item.text,
            due_at: due,
            ticked_by: item.ticked_by.map(|t| trigger_name(t).to_owned()),
            done,
        });
    }
    store::reminders::schedule_each(conn, &schedules).await?;
    if items.is_empty() {
        return Ok(None);
    }
    let items = store::checklist::add_each(conn, incident.id, items).await?;
    Ok(Some(checklist_message(incident, &items, now, true)))
}

fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Declare => "declare",
        Trigger::Ack => "ack",
        Trigger::Lead => "lead",
        Trigger::Update => "update",
    }
}

/// Ticks the open items that `trigger` completes; returns their numbers.
pub async fn tick(
    conn: &mut Conn,
    incident: &Incident,
    trigger: Trigger,
    by: &UserRef,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<i64>> {
    let mut ticked = Vec::new();
    for item in store::checklist::all(conn, incident.id).await? {
        if item.done.is_none() && item.ticked_by.as_deref() == Some(trigger_name(trigger)) {
            store::checklist::set_done(conn, incident.id, item.item, Some((by, now))).await?;
            store::reminders::cancel(conn, incident.id, Kind::Checklist, Some(item.item)).await?;
            ticked.push(item.item);
        }
    }
    Ok(ticked)
}

/// The checklist as a message: `heading` for the first post, else a progress line.
pub fn checklist_message(
    incident: &Incident,
    items: &[store::checklist::Item],
    now: DateTime<Utc>,
    first: bool,
) -> Message {
    let done = items.iter().filter(|i| i.done.is_some()).count();
    let head = if first {
        format!(
            "🧭 First 15 minutes for {} — tick items with /inc check <n>:",
            incident.key()
        )
    } else {
        format!(
            "🧭 {} checklist: {done}/{} done",
            incident.key(),
            items.len()
        )
    };
    let mut m = Message::new().line(Rich::plain(head));
    for i in items {
        let mut line = Rich::plain(format!(
            "{}. {} ",
            i.item,
            if i.done.is_some() { "✅" } else { "⬜" }
        ))
        .text(i.text.clone());
        match (&i.done, i.due_at) {
            (Some((who, at)), _) if !first => {
                line = line
                    .text(" (")
                    .person(who)
                    .text(format!(", {})", short(*at)));
            }
            (None, Some(due)) => {
                let late = if due < now { ", overdue" } else { "" };
                line = line.text(format!(" · by {}{late}", short(due)));
            }
            _ => {}
        }
        m = m.line(line);
    }
    m
}

/// The post that pages the platform's SEV1 mention (a Discord role) for a SEV1 incident, when
/// one is configured. A private incident's page names neither its title nor its channel (whose
/// name comes from the title): it says whom to ask for access, `contact` (the IC, else the
/// declarer).
pub fn sev1_page(
    config: &Config,
    incident: &Incident,
    paging: ChannelRef,
    contact: &UserRef,
) -> Option<Op> {
    let mention = config.sev1_mention(&incident.tenant)?;
    let page = Rich::plain(format!("🔴 {} is SEV1: ", incident.key())).mention(mention);
    let page = if incident.private {
        page.text(" — it is private: ask ")
            .person(contact)
            .text(" for access.")
    } else {
        page.text(" — join ")
            .channel(&crate::engine::render::planned(incident))
            .text(".")
    };
    (incident.severity == klaxon_commands::Severity::Sev1 && incident.is_open()).then(|| Op::Post {
        to: Target::Channel(paging),
        message: Message::new().line(page),
        track: None,
        timeline_entry: None,
    })
}

/// Who an escalation paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged {
    /// The tier paged (1-based), or the tier that was due when nobody could be paged.
    pub tier: i64,
    /// Who was paged; empty when no tier is configured or nobody is on call on any tier left.
    pub who: Rich,
    /// The schedule layers passed over because nobody was on call, as `payments/primary (tier 1)`.
    pub skipped: Vec<String>,
}

/// One tier resolved at the time of the page.
enum Resolved {
    /// Page this, with what to say about it (`on call for payments/primary, covering`).
    Page {
        who: Rich,
        note: Option<String>,
        data: serde_json::Value,
    },
    /// A schedule layer with nobody on call, as `payments/primary`.
    Nobody(String),
}

/// What a tier means now: a mention as written, or the person on call for a schedule layer
/// now, covers applied.
async fn resolve_tier(
    conn: &mut Conn,
    schedules: &Schedules,
    raw: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Resolved> {
    let r = match Tier::parse(raw) {
        Ok(Tier::Layer(r)) => r,
        // Tiers were checked when the configuration was read: the rest are mentions.
        Ok(Tier::Mention(_)) | Err(_) => {
            return Ok(Resolved::Page {
                who: Rich::new().mention(raw.to_owned()),
                note: None,
                data: serde_json::json!({ "mention": raw }),
            });
        }
    };
    let (schedule, layer) = match schedules.find(&r) {
        Ok(found) => found,
        Err(why) => {
            tracing::error!(tier = raw, %why, "an escalation tier names no loaded schedule");
            return Ok(Resolved::Nobody(
                raw.trim_start_matches(TIER_PREFIX).to_owned(),
            ));
        }
    };
    let label = format!("{}/{}", schedule.name, layer.name);
    let covers = store::oncall::by_layer(conn, &schedule.name, now).await?;
    let covers = covers.get(&layer.name).map_or(&[][..], Vec::as_slice);
    let (shift, _) = layer.at(now, chrono::Duration::days(1), covers);
    Ok(match shift {
        None => Resolved::Nobody(label),
        Some(shift) => Resolved::Page {
            who: Rich::new().ping(&UserRef {
                id: shift.person.clone(),
                name: None,
            }),
            note: Some(format!(
                "on call for {label}{}",
                if shift.covering { ", covering" } else { "" }
            )),
            data: serde_json::json!({
                "schedule": schedule.name,
                "layer": layer.name,
                "person": shift.person,
                "covering": shift.covering,
            }),
        },
    })
}

/// Pages the next escalation tier for an incident: posts in the paging channel, records it and
/// raises the tier. `why` explains the page (`not acknowledged after 5m`, `@bob escalated`). A
/// tier that names a schedule layer pages whoever is on call for it now (covers applied); when
/// nobody is, the next tier is paged and the page says so.
pub async fn escalate(
    conn: &mut Conn,
    config: &Config,
    schedules: &Schedules,
    incident: &Incident,
    actor: &UserRef,
    why: Rich,
    now: DateTime<Utc>,
) -> anyhow::Result<Paged> {
    let due = incident.escalation_tier + 1;
    let tiers = config.tiers(&incident.tenant, incident.severity);
    let head = Rich::plain(format!("📟 {} ({}) ", incident.key(), incident.severity)).append(why);
    let mut paged = Paged {
        tier: due,
        who: Rich::new(),
        skipped: Vec::new(),
    };
    let mut data = serde_json::json!({ "tier": due });
    let line = if tiers.is_empty() {
        head.text(". No escalation tiers are configured ([escalation] in klaxon.toml).")
    } else {
        let n = tiers.len();
        let mut index = usize::try_from(due - 1).unwrap_or(0).min(n - 1);
        let mut found = None;
        loop {
            match resolve_tier(conn, schedules, &tiers[index], now).await? {
                Resolved::Page { who, note, data } => {
                    found = Some((who, note, data));
                    break;
                }
                Resolved::Nobody(label) => {
                    paged.skipped.push(format!("{label} (tier {})", index + 1));
                    if index + 1 == n {
                        break;
                    }
                    index += 1;
                }
            }
        }
        paged.tier = i64::try_from(index + 1).unwrap_or(due);
        let mut line = head;
        if !paged.skipped.is_empty() {
            line = line.text(format!(
                ". Nobody is on call for {}",
                paged.skipped.join(", ")
            ));
        }
        match found {
            Some((who, note, tier_data)) => {
                let last = if index + 1 == n { ", the last" } else { "" };
                paged.who = who.clone();
                data = serde_json::json!({ "tier": paged.tier, "paged": tier_data });
                line = line
                    .text(format!(". Paging tier {}{last}: ", paged.tier))
                    .append(who);
                if let Some(note) = note {
                    line = line.text(format!(" ({note})"));
                }
                line.text(".")
            }
            None => line.text(": nobody is paged."),
        }
    };
    if !paged.skipped.is_empty() {
        data["nobody_on_call"] = serde_json::json!(paged.skipped);
    }
    // A private incident's channel is named after its title: the page names neither.
    let line = if incident.private {
        let roles = store::incidents::roles(conn, incident.id).await?;
        let contact = roles
            .iter()
            .find(|(role, _)| *role == klaxon_commands::Role::Ic)
            .map_or(&incident.declared_by, |(_, who)| who);
        line.text(" It is private: acknowledge with the announcement's button or /inc ack in its channel (ask ")
            .person(contact)
            .text(" for access).")
    } else {
        line.text(" Acknowledge with /inc ack in ")
            .channel(&crate::engine::render::planned(incident))
            .text(".")
    };
    let paging = config.paging_channel(&incident.tenant);
    let mut text = if tiers.is_empty() {
        format!("Escalation due (tier {due}); no tiers configured")
    } else if paged.who.0.is_empty() {
        format!("Escalation due (tier {due}); nobody is on call on any tier left")
    } else {
        format!("Paged tier {}: {}", paged.tier, paged.who.to_plain())
    };
    if let Some(serde_json::Value::Object(p)) = data.get("paged")
        && let Some(layer) = p.get("layer").and_then(|l| l.as_str())
    {
        let schedule = p
            .get("schedule")
            .and_then(|s| s.as_str())
            .unwrap_or_default();
        let covering = p.get("covering").and_then(serde_json::Value::as_bool) == Some(true);
        text.push_str(&format!(
            " (on call for {schedule}/{layer}{})",
            if covering { ", covering" } else { "" }
        ));
    }
    if !paged.skipped.is_empty() {
        text.push_str(&format!(
            "; nobody on call for {}",
            paged.skipped.join(", ")
        ));
    }
    let entry = store::timeline::append(
        conn,
        incident.id,
        now,
        actor,
        &EntryKind::Escalated { data: Some(data) },
        &text,
    )
    .await?;
    outbox::enqueue(
        conn,
        &incident.tenant,
        Some(incident.id),
        &Op::Post {
            to: Target::Channel(paging),
            message: Message::new().line(line),
            track: None,
            timeline_entry: Some(entry),
        },
        now,
    )
    .await?;
    store::incidents::set_escalation_tier(conn, incident.id, paged.tier.max(due)).await?;
    Ok(paged)
}

/// The status-update reminder post and its timeline text.
pub fn status_reminder(
    config: &Config,
    incident: &Incident,
    ic: &UserRef,
    now: DateTime<Utc>,
) -> (Message, String) {
    let since = age(last_update_or_declare(incident), now);
    let every = cadence(config, incident).map_or_else(String::new, |d| d.to_string());
    let what = if incident.last_update.is_some() {
        format!("no status update for {since}")
    } else {
        format!("no status update yet, {since} after declare")
    };
    let message = Message::new().line(Rich::plain("⏰ ").ping(ic).text(format!(
        ": {what}. {} updates are due every {every}: /inc update <text>.",
        incident.severity
    )));
    (message, format!("Reminded @{} ({what})", ic.label()))
}

/// At resolution: the postmortem is due `due_business_days` business days later, with a
/// reminder the business day before and one when it falls due. Returns the due time.
pub async fn schedule_postmortem(
    conn: &mut Conn,
    config: &Config,
    incident_id: i64,
    resolved_at: DateTime<Utc>,
) -> anyhow::Result<DateTime<Utc>> {
    let bh = &config.business_hours;
    let due = bh.add_business_days(resolved_at, config.postmortem.due_business_days);
    store::postmortems::set_due(conn, incident_id, Some(due)).await?;
    let day_before = bh.previous_business_day(due);
    if day_before > resolved_at {
        store::reminders::schedule(conn, incident_id, Kind::Postmortem, 0, day_before).await?;
    }
    store::reminders::schedule(conn, incident_id, Kind::Postmortem, 1, due).await?;
    Ok(due)
}

/// At reopen: no postmortem is due until the incident is resolved again.
pub async fn cancel_postmortem(conn: &mut Conn, incident_id: i64) -> anyhow::Result<()> {
    store::reminders::cancel(conn, incident_id, Kind::Postmortem, None).await?;
    store::postmortems::set_due(conn, incident_id, None).await
}

/// A follow-up is overdue from the start of business the day after its due date.
pub fn followup_overdue_at(config: &Config, due: chrono::NaiveDate) -> DateTime<Utc> {
    config
        .business_hours
        .start_of(due + chrono::Duration::days(1))
}

/// Who a reminder about the incident goes to: the IC, or the declarer while there is none.
pub async fn owner(conn: &mut Conn, incident: &Incident) -> anyhow::Result<UserRef> {
    let roles = store::incidents::roles(conn, incident.id).await?;
    Ok(roles
        .into_iter()
        .find(|(r, _)| *r == klaxon_commands::Role::Ic)
        .map_or_else(|| incident.declared_by.clone(), |(_, u)| u))
}
