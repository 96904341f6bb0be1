//! On-call notices, each inside the scheduler's transaction: planning the next handoff posts
//! and shift reminders from the rotas (covers applied), and firing one: who hands over to whom,
//! with the open incidents each is in and their handoff fields, queued in the outbox.

use crate::store::Conn;
use chrono::{DateTime, Duration, Utc};
use klaxon_commands::{ChannelRef, Message, Rich, UserRef};

use crate::config::Config;
use crate::oncall::{Layer, Schedule, Schedules, Shift, utc};
use crate::store::oncall::{self as store, Notice};
use crate::store::outbox::{self, Op, Target};

/// How far ahead handoffs are planned (a reminder's lead time is added for reminders).
pub const PLAN_AHEAD: Duration = Duration::days(2);

pub const HANDOFF: &str = "handoff";
pub const REMINDER: &str = "reminder";

/// Plans the handoffs of every layer in the next [`PLAN_AHEAD`], and the reminders of the
/// shifts starting then (plus the lead time). Already planned notices stay as they are; ones a
/// later cover made stale are skipped when they fall due.
pub async fn plan(
    tx: &mut Conn,
    config: &Config,
    schedules: &Schedules,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let handoffs = &config.oncall.handoffs;
    if !handoffs.enabled() {
        return Ok(());
    }
    let lead = Duration::from_std(handoffs.remind_before.as_std())?;
    let reminders_until = now + PLAN_AHEAD + lead;
    for schedule in schedules.by_name.values() {
        let covers = store::by_layer(tx, &schedule.name, now).await?;
        for layer in &schedule.layers {
            let covers = covers.get(&layer.name).map_or(&[][..], Vec::as_slice);
            let shifts = layer.shifts(now, reminders_until, covers);
            for at in changes(&shifts, now, reminders_until) {
                if at <= now + PLAN_AHEAD {
                    store::plan_notice(tx, &schedule.name, &layer.name, HANDOFF, at, at).await?;
                }
            }
            if !handoffs.remind {
                continue;
            }
            for (i, shift) in shifts.iter().enumerate() {
                let before = i.checked_sub(1).and_then(|j| shifts.get(j));
                let new_person =
                    before.is_none_or(|b| b.end < shift.start || b.person != shift.person);
                if shift.start > now && new_person {
                    let due = (shift.start - lead).max(now);
                    store::plan_notice(tx, &schedule.name, &layer.name, REMINDER, shift.start, due)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// The instants in `(now, until)` at which who holds the layer changes: someone takes over
/// from someone else, from nobody, or leaves it to nobody.
fn changes(shifts: &[Shift], now: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out: Vec<DateTime<Utc>> = Vec::new();
    for (i, shift) in shifts.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|j| shifts.get(j));
        let touching = before.is_some_and(|b| b.end == shift.start);
        if shift.start > now && !(touching && before.is_some_and(|b| b.person == shift.person)) {
            out.push(shift.start);
        }
        let after = shifts.get(i + 1);
        if shift.end < until && after.is_none_or(|a| a.start > shift.end) {
            out.push(shift.end);
        }
    }
    out.dedup();
    out
}

/// Who holds `layer` at `t` (the whole shift, as far as a year ahead).
fn holder(layer: &Layer, t: DateTime<Utc>, covers: &[crate::oncall::Cover]) -> Option<Shift> {
    layer.at(t, Duration::days(366), covers).0
}

fn person(id: &str) -> UserRef {
    UserRef {
        id: id.to_owned(),
        name: None,
    }
}

/// Fires `notice`: checks at fire time that the handoff still happens (covers may have moved
/// it) and queues one post per configured target. Returns whether anything was posted.
pub async fn fire(
    tx: &mut Conn,
    config: &Config,
    schedules: &Schedules,
    notice: &Notice,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let posted = match (
        schedules.by_name.get(&notice.schedule),
        notice.kind.as_str(),
    ) {
        (Some(schedule), kind) => match schedule.layer(&notice.layer) {
            Some(layer) => post(tx, config, schedule, layer, kind, notice, now).await?,
            None => false,
        },
        (None, _) => false,
    };
    store::notice_fired(tx, notice.id, posted, now).await?;
    Ok(posted)
}

async fn post(
    tx: &mut Conn,
    config: &Config,
    schedule: &Schedule,
    layer: &Layer,
    kind: &str,
    notice: &Notice,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let covers = store::by_layer(tx, &schedule.name, notice.shift_at - Duration::days(1)).await?;
    let covers = covers.get(&layer.name).map_or(&[][..], Vec::as_slice);
    let at = notice.shift_at;
    let incoming = holder(layer, at, covers);
    let outgoing = holder(layer, at - Duration::seconds(1), covers).filter(|s| s.end <= at);
    let same = match (&incoming, &outgoing) {
        (Some(i), Some(o)) => i.person == o.person,
        (None, None) => true,
        _ => false,
    };
    if same {
        return Ok(false);
    }
    // A reminder for a shift that has begun, or one nobody holds, says nothing new.
    if kind == REMINDER && (now >= at || incoming.is_none()) {
        return Ok(false);
    }
    let name = format!("{}/{}", schedule.name, layer.name);
    let handoffs = &config.oncall.handoffs;
    let people = [("incoming", &incoming), ("outgoing", &outgoing)];
    for target in &handoffs.targets {
        let tenant = target.tenant();
        let message = if kind == REMINDER {
            let Some(shift) = &incoming else {
                return Ok(false);
            };
            reminder(&name, shift)
        } else {
            let mut m = Message::new().line(headline(&name, at, &incoming, &outgoing, None));
            for (role, shift) in people {
                if let Some(shift) = shift {
                    m = involved(tx, m, &tenant, &person(&shift.person), role).await?;
                }
            }
            m
        };
        let channel = ChannelRef::new(target.channel.clone(), target.channel.clone());
        let to = Target::Channel(channel);
        queue(tx, &tenant, to, message, now).await?;
    }
    // By direct message, each person gets their own part: the reminder, or the handoff's
    // headline with the incidents they are in.
    for direct in &handoffs.direct {
        let tenant = direct.tenant();
        if kind == REMINDER {
            if let Some(shift) = &incoming {
                let to = Target::Person(person(&shift.person));
                queue(tx, &tenant, to, reminder(&name, shift), now).await?;
            }
            continue;
        }
        for (role, shift) in people {
            let Some(shift) = shift else { continue };
            let who = person(&shift.person);
            let line = headline(&name, at, &incoming, &outgoing, Some(&who.id));
            let m = involved(tx, Message::new().line(line), &tenant, &who, role).await?;
            queue(tx, &tenant, Target::Person(who), m, now).await?;
        }
    }
    tracing::info!(
        schedule = schedule.name,
        layer = layer.name,
        kind,
        at = %utc(at),
        incoming = incoming.as_ref().map(|s| s.person.as_str()),
        outgoing = outgoing.as_ref().map(|s| s.person.as_str()),
        "on-call notice posted"
    );
    Ok(config.oncall.handoffs.enabled())
}

/// Queues one handoff post or reminder, through the outbox like every other post.
async fn queue(
    tx: &mut Conn,
    tenant: &klaxon_commands::Tenant,
    to: Target,
    message: Message,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let op = Op::Post {
        to,
        message,
        track: None,
        timeline_entry: None,
    };
    outbox::enqueue(tx, tenant, None, &op, now).await
}

/// "⏰ @Bob: you are on call for payments/primary from … until …."
fn reminder(name: &str, shift: &Shift) -> Message {
    Message::new().line(
        Rich::plain("⏰ ")
            .ping(&person(&shift.person))
            .text(format!(
                ": you are on call for {name} from {} until {}.",
                utc(shift.start),
                utc(shift.end)
            )),
    )
}

/// The handoff's first line. In a channel both people are pinged (`only` is `None`); in a
/// direct message only its recipient is, and the other person is shown by name.
fn headline(
    name: &str,
    at: DateTime<Utc>,
    incoming: &Option<Shift>,
    outgoing: &Option<Shift>,
    only: Option<&str>,
) -> Rich {
    let who = |r: Rich, id: &str| {
        let u = person(id);
        if only.is_none_or(|o| o == id) {
            r.ping(&u)
        } else {
            r.person(&u)
        }
    };
    let head = Rich::plain(format!("🔁 Handoff of {name} at {}: ", utc(at)));
    match (incoming, outgoing) {
        (Some(i), Some(o)) => who(
            who(head, &i.person).text(format!(
                " is on call until {}, taking over from ",
                utc(i.end)
            )),
            &o.person,
        )
        .text("."),
        (Some(i), None) => who(head, &i.person).text(format!(
            " is on call until {}; nobody was before.",
            utc(i.end)
        )),
        (None, Some(o)) => who(head, &o.person).text(" is off call, and nobody is on call now."),
        (None, None) => head,
    }
}

/// `m` with the open incidents of `tenant` that `who` declared or holds a role in, each with
/// its handoff fields.
async fn involved(
    tx: &mut Conn,
    mut m: Message,
    tenant: &klaxon_commands::Tenant,
    who: &UserRef,
    role: &str,
) -> anyhow::Result<Message> {
    let mut theirs = Vec::new();
    for incident in crate::store::incidents::open(tx, tenant).await? {
        let roles = crate::store::incidents::roles(tx, incident.id).await?;
        if incident.declared_by.id == who.id || roles.iter().any(|(_, u)| u.id == who.id) {
            theirs.push(incident);
        }
    }
    if theirs.is_empty() {
        return Ok(m.line(
            Rich::plain("")
                .person(who)
                .text(format!(" ({role}): no open incidents.")),
        ));
    }
    m = m.line(Rich::plain("").person(who).text(format!(
        " ({role}): {} open incident{}:",
        theirs.len(),
        if theirs.len() == 1 { "" } else { "s" }
    )));
    for incident in &theirs {
        let owner = crate::engine::reminders::owner(tx, incident).await?;
        let owner = Rich::plain("Owner: ").person(&owner);
        m = m.line(Rich::plain(format!(
            "— {} · {}",
            incident.key(),
            incident.severity
        )));
        for line in crate::engine::actions::handoff_fields(tx, incident, owner).await? {
            m = m.line(Rich::plain("    ").append(line));
        }
    }
    Ok(m)
}
