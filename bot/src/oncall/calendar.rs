//! On-call rotas as iCalendar (RFC 5545) text, built with the `icalendar` crate: a schedule's
//! shifts (and gaps) or one person's shifts over every schedule, each an event in UTC.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component as _, EventLike as _, Property};

use super::{Cover, Layer, Schedule, Schedules, Shift, utc};

/// The covers of each schedule, by layer, as [`Schedule::gaps`] takes them.
pub type Covers = BTreeMap<String, BTreeMap<String, Vec<Cover>>>;

/// A feed's calendar, with what every one of them says.
fn calendar(name: &str, description: &str) -> Calendar {
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Klaxon//On-call schedules//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .name(name)
        .description(description)
        .ttl(&chrono::Duration::hours(1));
    cal
}

/// One shift as an event: UTC times, a UID that stays the same from one fetch to the next, and
/// transparent (being on call does not make someone busy).
fn event(
    schedule: &Schedule,
    layer: &Layer,
    shift: &Shift,
    summary: &str,
    now: DateTime<Utc>,
) -> icalendar::Event {
    let cover = if shift.covering { ", covering" } else { "" };
    let local = shift
        .start
        .with_timezone(&layer.rotation.zone)
        .format("%a %H:%M");
    icalendar::Event::new()
        .uid(&format!(
            "{}-{}-{}-{}@klaxon",
            shift.start.format("%Y%m%dT%H%M%SZ"),
            schedule.name,
            layer.name,
            shift.person
        ))
        .timestamp(now)
        .starts(shift.start)
        .ends(shift.end)
        .summary(summary)
        .description(&format!(
            "{} on call for {}/{}{cover}, {} to {} (starts {local} {}).",
            shift.person,
            schedule.name,
            layer.name,
            utc(shift.start),
            utc(shift.end),
            layer.rotation.zone
        ))
        .add_property("TRANSP", "TRANSPARENT")
        .done()
}

/// Every layer's shifts of `schedule` over `[from, to)`, covers applied, and the gaps when the
/// schedule does not allow them.
pub fn schedule_feed(
    schedule: &Schedule,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    covers: &BTreeMap<String, Vec<Cover>>,
    now: DateTime<Utc>,
) -> String {
    let mut cal = calendar(
        &format!("On call: {}", schedule.name),
        &format!(
            "Who is on call for {}, each layer, covers and swaps included (times in UTC).",
            schedule.name
        ),
    );
    for layer in &schedule.layers {
        for shift in layer.shifts(from, to, covers.get(&layer.name).map_or(&[], Vec::as_slice)) {
            let how = if shift.covering {
                "covering"
            } else {
                "on call for"
            };
            let summary = format!("{} {how} {}/{}", shift.person, schedule.name, layer.name);
            cal.push(event(schedule, layer, &shift, &summary, now));
        }
    }
    if !schedule.allow_gaps {
        for (start, end) in schedule.gaps(from, to, covers) {
            cal.push(
                icalendar::Event::new()
                    .uid(&format!(
                        "{}-{}-gap@klaxon",
                        start.format("%Y%m%dT%H%M%SZ"),
                        schedule.name
                    ))
                    .timestamp(now)
                    .starts(start)
                    .ends(end)
                    .summary(&format!("Nobody on call for {}", schedule.name))
                    .description(&format!(
                        "No layer of {} has anyone from {} to {}.",
                        schedule.name,
                        utc(start),
                        utc(end)
                    ))
                    .done(),
            );
        }
    }
    cal.done().to_string()
}

/// `person`'s shifts over `[from, to)` in every schedule and layer, covers applied.
pub fn person_feed(
    schedules: &Schedules,
    person: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    covers: &Covers,
    now: DateTime<Utc>,
) -> String {
    let mut cal = calendar(
        &format!("On call: {person}"),
        &format!("When {person} is on call, covers and swaps included (times in UTC)."),
    );
    let none = BTreeMap::new();
    for schedule in schedules.by_name.values() {
        let layers = covers.get(&schedule.name).unwrap_or(&none);
        for layer in &schedule.layers {
            let shifts = layer.shifts(from, to, layers.get(&layer.name).map_or(&[], Vec::as_slice));
            for shift in shifts.iter().filter(|s| s.person == person) {
                let how = if shift.covering {
                    "Covering"
                } else {
                    "On call for"
                };
                let summary = format!("{how} {}/{}", schedule.name, layer.name);
                cal.push(event(schedule, layer, shift, &summary, now));
            }
        }
    }
    cal.done().to_string()
}

/// Whether `person` holds a shift in any schedule's rotation (covers aside).
pub fn is_participant(schedules: &Schedules, person: &str) -> bool {
    schedules.by_name.values().any(|s| {
        s.layers
            .iter()
            .any(|l| l.rotation.participants.iter().any(|p| p == person))
    })
}
