//! `/inc oncall`: who is on call now and next, from the schedule files and the stored covers;
//! covers set and removed from chat, each kept with who did it.

use chrono::{DateTime, Duration, Utc};
use klaxon_commands::{CoverEnd, Message, Oncall, Reply, Rich, ScheduleRef, UserError, UserRef};

use crate::engine::{ActionResult, Ctx};
use crate::oncall::{Layer, Schedule, Schedules, Shift, utc};
use crate::store::oncall::{self as covers, NewCover};

/// How far ahead `/inc oncall` looks for the next person.
const LOOKAHEAD: Duration = Duration::days(60);

pub async fn run(ctx: &mut Ctx<'_>, oncall: Oncall) -> ActionResult {
    match oncall {
        Oncall::Show { schedule } => show(ctx, schedule.as_ref()).await,
        Oncall::Cover {
            who,
            from,
            end,
            schedule,
        } => cover(ctx, who, from, end, schedule.as_ref()).await,
        Oncall::Covers { schedule } => list(ctx, schedule.as_ref()).await,
        Oncall::Uncover { number } => uncover(ctx, number).await,
        Oncall::Swap {
            a,
            b,
            date,
            time,
            schedule,
        } => {
            swap(
                ctx,
                &a,
                &b,
                date.and_time(time).and_utc(),
                schedule.as_ref(),
            )
            .await
        }
    }
}

fn none_set_up() -> UserError {
    UserError::new(
        "No on-call schedules are set up. Add oncall/<name>.toml files (README: On-call schedules).",
    )
}

/// The schedule a command names, or the only one there is.
pub(super) fn schedule<'a>(
    schedules: &'a Schedules,
    asked: Option<&ScheduleRef>,
) -> Result<&'a Schedule, UserError> {
    let all = &schedules.by_name;
    let names = || all.keys().cloned().collect::<Vec<_>>().join(", ");
    match asked {
        Some(r) => all.get(&r.schedule).ok_or_else(|| {
            if all.is_empty() {
                none_set_up()
            } else {
                UserError::new(format!(
                    "No schedule `{}`. Schedules: {}.",
                    r.schedule,
                    names()
                ))
            }
        }),
        None => match all.values().next() {
            None => Err(none_set_up()),
            Some(only) if all.len() == 1 => Ok(only),
            Some(_) => Err(UserError::new(format!("Which schedule? {}.", names()))),
        },
    }
}

/// The layer a command names, or the schedule's first.
pub(super) fn layer<'a>(
    schedule: &'a Schedule,
    asked: Option<&ScheduleRef>,
) -> Result<&'a Layer, UserError> {
    match asked.and_then(|r| r.layer.as_deref()) {
        None => schedule.layers.first().ok_or_else(none_set_up),
        Some(name) => schedule.layer(name).ok_or_else(|| {
            let layers: Vec<&str> = schedule.layers.iter().map(|l| l.name.as_str()).collect();
            UserError::new(format!(
                "`{}` has no layer `{name}`. Layers: {}.",
                schedule.name,
                layers.join(", ")
            ))
        }),
    }
}

/// Who holds the layer `asked` names now, covers applied: the layer's `schedule/layer` label
/// and the shift, if anyone holds it.
pub(super) async fn on_call_now(
    ctx: &mut Ctx<'_>,
    asked: &ScheduleRef,
) -> Result<(String, Option<Shift>), crate::engine::ActionError> {
    let s = schedule(&ctx.services.schedules, Some(asked))?;
    let l = layer(s, Some(asked))?;
    let label = format!("{}/{}", s.name, l.name);
    let (schedule_name, layer_name) = (s.name.clone(), l.name.clone());
    let l = l.clone();
    let stored = covers::by_layer(ctx.conn, &schedule_name, ctx.now).await?;
    let layer_covers = stored.get(&layer_name).map_or(&[][..], Vec::as_slice);
    Ok((label, l.at(ctx.now, Duration::days(1), layer_covers).0))
}

/// A participant as chat shows them: by name, without notifying.
fn person(id: &str) -> UserRef {
    UserRef {
        id: id.to_owned(),
        name: None,
    }
}

async fn show(ctx: &mut Ctx<'_>, asked: Option<&ScheduleRef>) -> ActionResult {
    let schedules = &ctx.services.schedules;
    let all = &schedules.by_name;
    if all.is_empty() {
        return Err(none_set_up().into());
    }
    let chosen: Vec<&Schedule> = match asked {
        Some(_) => {
            let s = schedule(schedules, asked)?;
            layer(s, asked)?;
            vec![s]
        }
        None => all.values().collect(),
    };
    let mut message = Message::new();
    for s in chosen {
        let stored = covers::by_layer(ctx.conn, &s.name, ctx.now).await?;
        message = message.line(Rich::new().strong(format!("On call for {}", s.name)));
        for l in &s.layers {
            if asked
                .and_then(|r| r.layer.as_deref())
                .is_some_and(|only| only != l.name)
            {
                continue;
            }
            let layer_covers = stored.get(&l.name).map_or(&[][..], Vec::as_slice);
            let (now, next) = l.at(ctx.now, LOOKAHEAD, layer_covers);
            message = message.line(layer_line(&l.name, now.as_ref(), next.as_ref()));
        }
    }
    Ok(Reply::ok(message))
}

fn layer_line(name: &str, now: Option<&Shift>, next: Option<&Shift>) -> Rich {
    let mut line = Rich::plain(format!("• {name}: "));
    match now {
        Some(s) => {
            line = line.person(&person(&s.person));
            if s.covering {
                line = line.text(" (cover)");
            }
            line = line.text(format!(" until {}", utc(s.end)));
        }
        None => line = line.text("nobody now"),
    }
    match next {
        Some(n) => {
            line = line.text(" · next ").person(&person(&n.person));
            if now.is_none_or(|s| s.end != n.start) {
                line = line.text(format!(" from {}", utc(n.start)));
            }
        }
        None => line = line.text(" · nobody in the next 60 days"),
    }
    line
}

/// When a cover typed at `now` starts: now, or a UTC time not in the past and within 366 days
/// (`18:00` alone is the next 18:00).
fn start_of(now: DateTime<Utc>, from: Option<CoverEnd>) -> Result<DateTime<Utc>, UserError> {
    let at = match from {
        None => return Ok(now),
        Some(CoverEnd::For(d)) => crate::clock::after(now, d.as_std()),
        Some(CoverEnd::Until {
            date: Some(d),
            time,
        }) => d.and_time(time).and_utc(),
        Some(CoverEnd::Until { date: None, time }) => {
            let today = now.date_naive().and_time(time).and_utc();
            if today >= now {
                today
            } else {
                today + Duration::days(1)
            }
        }
    };
    if at < now {
        return Err(UserError::new(format!(
            "{} has passed; a cover starts now or later.",
            utc(at)
        )));
    }
    if at > now + Duration::days(366) {
        return Err(UserError::new("A cover starts within 366 days from now."));
    }
    Ok(at)
}

/// When a cover that starts at `now` ends.
fn end_of(now: DateTime<Utc>, end: CoverEnd) -> Result<DateTime<Utc>, UserError> {
    let at = match end {
        CoverEnd::For(d) => crate::clock::after(now, d.as_std()),
        CoverEnd::Until {
            date: Some(d),
            time,
        } => d.and_time(time).and_utc(),
        CoverEnd::Until { date: None, time } => {
            let today = now.date_naive().and_time(time).and_utc();
            if today > now {
                today
            } else {
                today + Duration::days(1)
            }
        }
    };
    if at <= now {
        return Err(UserError::new(format!(
            "{} has passed; a cover ends in the future.",
            utc(at)
        )));
    }
    if at > now + Duration::days(366) {
        return Err(UserError::new("A cover lasts at most 366 days."));
    }
    Ok(at)
}

async fn cover(
    ctx: &mut Ctx<'_>,
    who: Option<UserRef>,
    from: Option<CoverEnd>,
    end: CoverEnd,
    asked: Option<&ScheduleRef>,
) -> ActionResult {
    let s = schedule(&ctx.services.schedules, asked)?;
    let l = layer(s, asked)?;
    let later = from.is_some();
    let start = start_of(ctx.now, from)?;
    let end = end_of(start, end).map_err(|e| {
        if later {
            UserError::new(format!(
                "The cover would start at {} and must end after that, within 366 days.",
                utc(start)
            ))
        } else {
            e
        }
    })?;
    let who = who.unwrap_or_else(|| ctx.inv.user.clone());
    let (schedule_name, layer_name) = (s.name.clone(), l.name.clone());
    let id = covers::insert(
        ctx.conn,
        &ctx.inv.tenant,
        &ctx.inv.user,
        ctx.now,
        &NewCover {
            schedule: &schedule_name,
            layer: &layer_name,
            person: &who,
            start,
            end,
        },
    )
    .await?;
    tracing::info!(
        cover = id,
        from = %utc(start),
        schedule = %schedule_name,
        layer = %layer_name,
        person = %who.id,
        by = %ctx.inv.user.id,
        until = %utc(end),
        "on-call cover set"
    );
    Ok(Reply::ok_line(
        Rich::plain(format!("Cover #{id}: "))
            .person(&who)
            .text(format!(
                " holds {schedule_name}/{layer_name} {}until {}. `/inc oncall uncover {id}` removes it.",
                if later { format!("from {} ", utc(start)) } else { String::new() },
                utc(end)
            )),
    ))
}

async fn list(ctx: &mut Ctx<'_>, asked: Option<&ScheduleRef>) -> ActionResult {
    let only = match asked {
        Some(_) => Some(schedule(&ctx.services.schedules, asked)?.name.clone()),
        None => None,
    };
    let found = covers::active(ctx.conn, only.as_deref(), ctx.now).await?;
    if found.is_empty() {
        return Ok(Reply::ok_line(Rich::plain("No covers now or ahead.")));
    }
    let mut message = Message::new().line(Rich::plain(format!("Covers ({}):", found.len())));
    for c in &found {
        message = message.line(
            Rich::plain(format!("#{} {}/{}: ", c.id, c.schedule, c.layer))
                .person(&c.person)
                .text(format!(" {} → {}", utc(c.start), utc(c.end))),
        );
    }
    Ok(Reply::ok(message))
}

async fn uncover(ctx: &mut Ctx<'_>, number: u32) -> ActionResult {
    let id = i64::from(number);
    let Some(found) = covers::get(ctx.conn, id).await? else {
        return Err(UserError::new(format!(
            "No cover #{number}. `/inc oncall covers` lists them."
        ))
        .into());
    };
    if found.removed_at.is_some() || found.end <= ctx.now {
        return Err(UserError::new(format!("Cover #{number} is already over.")).into());
    }
    covers::remove(ctx.conn, id, &ctx.inv.user, ctx.now).await?;
    tracing::info!(cover = id, by = %ctx.inv.user.id, "on-call cover removed");
    Ok(Reply::ok_line(
        Rich::plain(format!("Cover #{number} removed: "))
            .person(&found.person)
            .text(format!(
                " no longer holds {}/{}; the rotation applies again.",
                found.schedule, found.layer
            )),
    ))
}

/// How far after the first shift a swap looks for the other person's shift.
const SWAP_LOOKAHEAD: Duration = Duration::days(366);

async fn swap(
    ctx: &mut Ctx<'_>,
    a: &UserRef,
    b: &UserRef,
    at: DateTime<Utc>,
    asked: Option<&ScheduleRef>,
) -> ActionResult {
    let s = schedule(&ctx.services.schedules, asked)?;
    let l = layer(s, asked)?;
    let (schedule_name, layer_name) = (s.name.clone(), l.name.clone());
    let stored = covers::by_layer(ctx.conn, &schedule_name, ctx.now).await?;
    let layer_covers = stored.get(&layer_name).map_or(&[][..], Vec::as_slice);
    let Some(to) = at.checked_add_signed(SWAP_LOOKAHEAD) else {
        return Err(UserError::new("That date is too far ahead.").into());
    };
    let shifts = l.shifts(ctx.now.min(at), to, layer_covers);
    let Some(given) = shifts
        .iter()
        .find(|sh| sh.start <= at && at < sh.end && sh.person == a.id && sh.end > ctx.now)
    else {
        return Err(UserError::new(format!(
            "{} is not on call for {schedule_name}/{layer_name} at {}, so there is no shift to swap. `/inc oncall {schedule_name}/{layer_name}` shows who is.",
            a.label(),
            utc(at)
        ))
        .into());
    };
    let Some(taken) = shifts
        .iter()
        .find(|sh| sh.start >= given.end && sh.person == b.id)
    else {
        return Err(UserError::new(format!(
            "{} has no shift on {schedule_name}/{layer_name} in the year after {}, so there is nothing to give back. Use `/inc oncall cover` instead.",
            b.label(),
            utc(given.end)
        ))
        .into());
    };
    let first = (given.start.max(ctx.now), given.end);
    let second = (taken.start, taken.end);
    let mut ids = Vec::new();
    for (person, (start, end)) in [(b, first), (a, second)] {
        let id = covers::insert(
            ctx.conn,
            &ctx.inv.tenant,
            &ctx.inv.user,
            ctx.now,
            &NewCover {
                schedule: &schedule_name,
                layer: &layer_name,
                person,
                start,
                end,
            },
        )
        .await?;
        ids.push(id);
    }
    tracing::info!(
        covers = ?ids,
        schedule = %schedule_name,
        layer = %layer_name,
        a = %a.id,
        b = %b.id,
        by = %ctx.inv.user.id,
        "on-call swap set"
    );
    Ok(Reply::ok(
        Message::new()
            .line(Rich::plain(format!(
                "Swap on {schedule_name}/{layer_name}:"
            )))
            .line(Rich::plain("• ").person(b).text(format!(
                " holds {} → {} (cover #{})",
                utc(first.0),
                utc(first.1),
                ids[0]
            )))
            .line(Rich::plain("• ").person(a).text(format!(
                " holds {} → {} (cover #{})",
                utc(second.0),
                utc(second.1),
                ids[1]
            ))),
    ))
}
