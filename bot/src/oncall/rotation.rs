//! Rotations: who holds an on-call layer at an instant, and the shifts over a span, reckoned in
//! the layer's own time zone so that handoffs keep their wall-clock time across daylight-saving
//! changes and leap days.

use chrono::{
    DateTime, Datelike as _, Duration, NaiveDate, NaiveTime, TimeZone as _, Utc, Weekday,
};
use chrono_tz::Tz;

/// How long one person holds a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    /// Calendar days: the handoff keeps its local time, so a shift over a DST change is an hour
    /// shorter or longer.
    Days(u32),
    /// Elapsed hours, whatever the wall clock says.
    Hours(u32),
}

/// A rotation: participants in order, each holding it for `length`, the first from `handoff`
/// local time on `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Platform identities (Slack `U…`, Discord ids, console names), in order.
    pub participants: Vec<String>,
    pub length: Length,
    pub start: NaiveDate,
    pub handoff: NaiveTime,
    pub zone: Tz,
}

/// Times a layer covers; outside them the layer has nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// Local days on which a window opens.
    pub days: Vec<Weekday>,
    /// The local window on each of those days; `None` is the whole day. An end at or before the
    /// start runs into the next day.
    pub hours: Option<(NaiveTime, NaiveTime)>,
}

/// One layer of a schedule (primary, secondary…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    pub rotation: Rotation,
    pub restriction: Option<Restriction>,
}

/// Someone holding a layer over `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub person: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Whether an override, not the rotation, put the person there.
    pub covering: bool,
}

/// An override of one layer: `person` holds it over `[start, end)`, whatever the rotation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    pub person: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The most shifts one listing walks, so that an hourly rotation over a long span stays cheap.
const MAX_SHIFTS: usize = 20_000;

/// The UTC instant of a local wall-clock time. A time skipped by a DST change moves to the first
/// instant after the gap; a repeated time takes its first occurrence.
pub fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = date.and_time(time);
    // Gaps are at most a day long (Samoa skipped 2011-12-30), so a minute-by-minute walk ends.
    (0..=24 * 60).find_map(|minutes| {
        let candidate = naive.checked_add_signed(Duration::minutes(minutes))?;
        zone.from_local_datetime(&candidate)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

impl Rotation {
    /// When shift `k` starts (shift 0 is the first participant's first).
    pub fn shift_start(&self, k: i64) -> Option<DateTime<Utc>> {
        match self.length {
            Length::Days(n) => {
                let days = k.checked_mul(i64::from(n))?;
                let date = if days >= 0 {
                    self.start
                        .checked_add_days(chrono::Days::new(days.unsigned_abs()))?
                } else {
                    self.start
                        .checked_sub_days(chrono::Days::new(days.unsigned_abs()))?
                };
                local_instant(self.zone, date, self.handoff)
            }
            Length::Hours(n) => {
                let anchor = local_instant(self.zone, self.start, self.handoff)?;
                let hours = k.checked_mul(i64::from(n))?;
                anchor.checked_add_signed(Duration::try_hours(hours)?)
            }
        }
    }

    /// The shift holding `t`; negative before the rotation starts.
    pub fn index_at(&self, t: DateTime<Utc>) -> Option<i64> {
        let mut k = match self.length {
            Length::Days(n) => {
                let local = t.with_timezone(&self.zone).date_naive();
                (local - self.start)
                    .num_days()
                    .div_euclid(i64::from(n.max(1)))
            }
            Length::Hours(n) => {
                let anchor = local_instant(self.zone, self.start, self.handoff)?;
                (t - anchor)
                    .num_seconds()
                    .div_euclid(i64::from(n.max(1)) * 3600)
            }
        };
        // The local date and the handoff time can put `t` one shift either side.
        while self.shift_start(k)? > t {
            k -= 1;
        }
        while self.shift_start(k + 1)? <= t {
            k += 1;
        }
        Some(k)
    }

    /// Who holds shift `k`, if it is at or after the start.
    fn person(&self, k: i64) -> Option<&str> {
        let len = i64::try_from(self.participants.len())
            .ok()
            .filter(|l| *l > 0)?;
        if k < 0 {
            return None;
        }
        let i = usize::try_from(k.rem_euclid(len)).ok()?;
        self.participants.get(i).map(String::as_str)
    }

    /// The rotation's shifts overlapping `[from, to)`, clipped to it.
    pub fn shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        let mut out = Vec::new();
        let Some(mut k) = self.index_at(from) else {
            return out;
        };
        k = k.max(0);
        while out.len() < MAX_SHIFTS {
            let (Some(start), Some(end)) = (self.shift_start(k), self.shift_start(k + 1)) else {
                break;
            };
            if start >= to {
                break;
            }
            if let Some(person) = self.person(k) {
                let (start, end) = (start.max(from), end.min(to));
                if start < end {
                    out.push(Shift {
                        person: person.to_owned(),
                        start,
                        end,
                        covering: false,
                    });
                }
            }
            k += 1;
        }
        out
    }
}

impl Restriction {
    /// The windows this restriction opens within `[from, to)`, merged where they touch.
    pub fn windows(
        &self,
        zone: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        let first = from.with_timezone(&zone).date_naive().pred_opt();
        let last = to.with_timezone(&zone).date_naive();
        let midnight = NaiveTime::MIN;
        let mut day = first;
        while let Some(date) = day.filter(|d| *d <= last) {
            day = date.succ_opt();
            if !self.days.contains(&date.weekday()) {
                continue;
            }
            let (open, close) = self.hours.unwrap_or((midnight, midnight));
            let close_date = if close > open {
                Some(date)
            } else {
                date.succ_opt()
            };
            let (Some(start), Some(end)) = (
                local_instant(zone, date, open),
                close_date.and_then(|d| local_instant(zone, d, close)),
            ) else {
                continue;
            };
            let (start, end) = (start.max(from), end.min(to));
            if start >= end {
                continue;
            }
            match out.last_mut() {
                Some(last) if last.1 >= start => last.1 = last.1.max(end),
                _ => out.push((start, end)),
            }
        }
        out
    }
}

impl Layer {
    /// Who holds this layer over `[from, to)`: the rotation within its restriction, then the
    /// covers (later ones win where they overlap), clipped to the span. Adjacent shifts of one
    /// person are joined.
    pub fn shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>, covers: &[Cover]) -> Vec<Shift> {
        let planned = self.rotation.shifts(from, to);
        let mut shifts = match &self.restriction {
            None => planned,
            Some(r) => intersect(&planned, &r.windows(self.rotation.zone, from, to)),
        };
        for cover in covers {
            let (start, end) = (cover.start.max(from), cover.end.min(to));
            if start >= end {
                continue;
            }
            shifts = cut(shifts, start, end);
            shifts.push(Shift {
                person: cover.person.clone(),
                start,
                end,
                covering: true,
            });
            shifts.sort_by_key(|s| s.start);
        }
        join(shifts)
    }

    /// The shift holding `t` (whole, as far as `horizon` after `t`), and the next one after it.
    pub fn at(
        &self,
        t: DateTime<Utc>,
        horizon: Duration,
        covers: &[Cover],
    ) -> (Option<Shift>, Option<Shift>) {
        let Some(to) = t.checked_add_signed(horizon) else {
            return (None, None);
        };
        // Look back one shift's length too, so the current shift shows when it began.
        let back = match self.rotation.length {
            Length::Days(n) => Duration::days(i64::from(n)),
            Length::Hours(n) => Duration::hours(i64::from(n)),
        };
        let from = t.checked_sub_signed(back).unwrap_or(t);
        let shifts = self.shifts(from, to, covers);
        let now = shifts.iter().find(|s| s.start <= t && t < s.end).cloned();
        let next = shifts.into_iter().find(|s| s.start > t);
        (now, next)
    }
}

/// Each shift cut to the parts inside the windows.
fn intersect(shifts: &[Shift], windows: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<Shift> {
    let mut out = Vec::new();
    for shift in shifts {
        for (open, close) in windows {
            let (start, end) = (shift.start.max(*open), shift.end.min(*close));
            if start < end {
                out.push(Shift {
                    start,
                    end,
                    ..shift.clone()
                });
            }
        }
    }
    out
}

/// The shifts with `[start, end)` taken out.
fn cut(shifts: Vec<Shift>, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Shift> {
    let mut out = Vec::with_capacity(shifts.len() + 1);
    for shift in shifts {
        if shift.end <= start || shift.start >= end {
            out.push(shift);
            continue;
        }
        if shift.start < start {
            out.push(Shift {
                end: start,
                ..shift.clone()
            });
        }
        if shift.end > end {
            out.push(Shift {
                start: end,
                ..shift
            });
        }
    }
    out
}

/// Touching shifts of the same person, held the same way, become one.
fn join(shifts: Vec<Shift>) -> Vec<Shift> {
    let mut out: Vec<Shift> = Vec::with_capacity(shifts.len());
    for shift in shifts {
        match out.last_mut() {
            Some(last)
                if last.end == shift.start
                    && last.person == shift.person
                    && last.covering == shift.covering =>
            {
                last.end = shift.end;
            }
            _ => out.push(shift),
        }
    }
    out
}

/// The parts of `[from, to)` that no list of shifts covers.
pub fn gaps(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    layers: &[Vec<Shift>],
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut covered: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        layers.iter().flatten().map(|s| (s.start, s.end)).collect();
    covered.sort();
    let mut out = Vec::new();
    let mut at = from;
    for (start, end) in covered {
        if start > at {
            out.push((at, start.min(to)));
        }
        at = at.max(end);
        if at >= to {
            break;
        }
    }
    if at < to {
        out.push((at, to));
    }
    out
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
