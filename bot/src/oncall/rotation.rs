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
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn time(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn rotation(people: &[&str], length: Length, start: &str, handoff: &str, zone: Tz) -> Rotation {
        Rotation {
            participants: people.iter().map(|p| (*p).to_owned()).collect(),
            length,
            start: date(start),
            handoff: time(handoff),
            zone,
        }
    }

    fn layer(rotation: Rotation) -> Layer {
        Layer {
            name: "primary".into(),
            rotation,
            restriction: None,
        }
    }

    /// `(person, start, end)` in RFC 3339 UTC, for readable expectations.
    fn spans(shifts: &[Shift]) -> Vec<(String, String, String)> {
        shifts
            .iter()
            .map(|s| {
                (
                    s.person.clone(),
                    s.start.format("%Y-%m-%dT%H:%MZ").to_string(),
                    s.end.format("%Y-%m-%dT%H:%MZ").to_string(),
                )
            })
            .collect()
    }

    fn span(person: &str, start: &str, end: &str) -> (String, String, String) {
        (person.into(), start.into(), end.into())
    }

    #[test]
    fn a_weekly_handoff_keeps_its_local_time_across_the_european_spring_change() {
        // Europe/Berlin moves from UTC+1 to UTC+2 on Sunday 2027-03-28.
        let r = rotation(
            &["alice", "bob"],
            Length::Days(7),
            "2027-03-22",
            "09:00",
            chrono_tz::Europe::Berlin,
        );
        let shifts = layer(r).shifts(
            utc("2027-03-22T00:00:00Z"),
            utc("2027-04-06T00:00:00Z"),
            &[],
        );
        assert_eq!(
            spans(&shifts),
            [
                span("alice", "2027-03-22T08:00Z", "2027-03-29T07:00Z"),
                span("bob", "2027-03-29T07:00Z", "2027-04-05T07:00Z"),
                span("alice", "2027-04-05T07:00Z", "2027-04-06T00:00Z"),
            ]
        );
        // The shift over the change is an hour short: 167 hours.
        assert_eq!((shifts[0].end - shifts[0].start).num_hours(), 167);
    }

    #[test]
    fn a_daily_handoff_keeps_its_local_time_across_the_american_autumn_change() {
        // America/New_York moves from UTC-4 to UTC-5 on Sunday 2026-11-01.
        let r = rotation(
            &["ann", "ben", "cy"],
            Length::Days(1),
            "2026-10-30",
            "08:00",
            chrono_tz::America::New_York,
        );
        let shifts = layer(r).shifts(
            utc("2026-10-31T12:00:00Z"),
            utc("2026-11-02T14:00:00Z"),
            &[],
        );
        assert_eq!(
            spans(&shifts),
            [
                span("ben", "2026-10-31T12:00Z", "2026-11-01T13:00Z"),
                span("cy", "2026-11-01T13:00Z", "2026-11-02T13:00Z"),
                span("ann", "2026-11-02T13:00Z", "2026-11-02T14:00Z"),
            ]
        );
        // Saturday 08:00 EDT to Sunday 08:00 EST is 25 hours.
        let r = rotation(
            &["ann", "ben", "cy"],
            Length::Days(1),
            "2026-10-30",
            "08:00",
            chrono_tz::America::New_York,
        );
        assert_eq!(r.shift_start(1), Some(utc("2026-10-31T12:00:00Z")));
        assert_eq!(r.shift_start(2), Some(utc("2026-11-01T13:00:00Z")));
    }

    #[test]
    fn an_hourly_rotation_counts_elapsed_hours_through_a_change() {
        let r = rotation(
            &["a", "b"],
            Length::Hours(12),
            "2027-03-27",
            "20:00",
            chrono_tz::Europe::Berlin,
        );
        // 20:00 CET is 19:00 UTC; twelve elapsed hours later is 07:00 UTC, 09:00 CEST.
        assert_eq!(r.shift_start(0), Some(utc("2027-03-27T19:00:00Z")));
        assert_eq!(r.shift_start(1), Some(utc("2027-03-28T07:00:00Z")));
    }

    #[test]
    fn a_handoff_in_the_skipped_hour_moves_to_the_end_of_the_gap() {
        // 02:30 does not exist in Berlin on 2027-03-28: clocks go from 02:00 to 03:00.
        let r = rotation(
            &["a", "b"],
            Length::Days(1),
            "2027-03-27",
            "02:30",
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(r.shift_start(0), Some(utc("2027-03-27T01:30:00Z")));
        assert_eq!(r.shift_start(1), Some(utc("2027-03-28T01:00:00Z")));
        assert_eq!(r.shift_start(2), Some(utc("2027-03-29T00:30:00Z")));
    }

    #[test]
    fn a_handoff_in_the_repeated_hour_takes_the_first_one() {
        // 01:30 happens twice in New York on 2026-11-01; the first is EDT (UTC-4).
        let r = rotation(
            &["a"],
            Length::Days(1),
            "2026-11-01",
            "01:30",
            chrono_tz::America::New_York,
        );
        assert_eq!(r.shift_start(0), Some(utc("2026-11-01T05:30:00Z")));
    }

    #[test]
    fn a_leap_day_is_a_day_like_any_other() {
        let r = rotation(
            &["a", "b"],
            Length::Days(1),
            "2028-02-28",
            "09:00",
            chrono_tz::UTC,
        );
        let shifts = layer(r).shifts(
            utc("2028-02-28T09:00:00Z"),
            utc("2028-03-01T09:00:00Z"),
            &[],
        );
        assert_eq!(
            spans(&shifts),
            [
                span("a", "2028-02-28T09:00Z", "2028-02-29T09:00Z"),
                span("b", "2028-02-29T09:00Z", "2028-03-01T09:00Z"),
            ]
        );
        // A weekly rotation started on a leap day carries on weekly.
        let r = rotation(
            &["a"],
            Length::Days(7),
            "2028-02-29",
            "09:00",
            chrono_tz::UTC,
        );
        assert_eq!(r.shift_start(1), Some(utc("2028-03-07T09:00:00Z")));
    }

    #[test]
    fn before_the_start_nobody_is_on_call() {
        let r = rotation(
            &["a"],
            Length::Days(7),
            "2027-01-04",
            "09:00",
            chrono_tz::UTC,
        );
        let l = layer(r);
        let shifts = l.shifts(
            utc("2027-01-01T00:00:00Z"),
            utc("2027-01-05T00:00:00Z"),
            &[],
        );
        assert_eq!(
            spans(&shifts),
            [span("a", "2027-01-04T09:00Z", "2027-01-05T00:00Z")]
        );
        let found = gaps(
            utc("2027-01-01T00:00:00Z"),
            utc("2027-01-05T00:00:00Z"),
            &[shifts],
        );
        assert_eq!(
            found,
            [(utc("2027-01-01T00:00:00Z"), utc("2027-01-04T09:00:00Z"))]
        );
    }

    #[test]
    fn a_single_person_rotation_is_one_long_shift() {
        let r = rotation(
            &["solo"],
            Length::Days(1),
            "2027-01-04",
            "09:00",
            chrono_tz::UTC,
        );
        let shifts = layer(r).shifts(
            utc("2027-01-05T00:00:00Z"),
            utc("2027-01-09T00:00:00Z"),
            &[],
        );
        assert_eq!(
            spans(&shifts),
            [span("solo", "2027-01-05T00:00Z", "2027-01-09T00:00Z")]
        );
    }

    #[test]
    fn business_hours_restrictions_leave_nights_and_weekends_empty() {
        let mut l = layer(rotation(
            &["a", "b"],
            Length::Days(7),
            "2027-01-04",
            "09:00",
            chrono_tz::Europe::Paris,
        ));
        l.restriction = Some(Restriction {
            days: vec![Weekday::Fri, Weekday::Mon],
            hours: Some((time("09:00"), time("17:00"))),
        });
        let shifts = l.shifts(
            utc("2027-01-07T00:00:00Z"),
            utc("2027-01-12T00:00:00Z"),
            &[],
        );
        assert_eq!(
            spans(&shifts),
            [
                span("a", "2027-01-08T08:00Z", "2027-01-08T16:00Z"),
                span("b", "2027-01-11T08:00Z", "2027-01-11T16:00Z"),
            ]
        );
    }

    #[test]
    fn an_overnight_window_runs_into_the_next_day() {
        let mut l = layer(rotation(
            &["night"],
            Length::Days(7),
            "2027-01-04",
            "00:00",
            chrono_tz::UTC,
        ));
        l.restriction = Some(Restriction {
            days: vec![Weekday::Mon],
            hours: Some((time("22:00"), time("06:00"))),
        });
        let shifts = l.shifts(
            utc("2027-01-04T00:00:00Z"),
            utc("2027-01-06T00:00:00Z"),
            &[],
        );
        assert_eq!(
            spans(&shifts),
            [span("night", "2027-01-04T22:00Z", "2027-01-05T06:00Z")]
        );
    }

    #[test]
    fn a_cover_replaces_the_rotation_for_its_span_and_no_longer() {
        let l = layer(rotation(
            &["a", "b"],
            Length::Days(7),
            "2027-01-04",
            "09:00",
            chrono_tz::UTC,
        ));
        let cover = Cover {
            person: "c".into(),
            start: utc("2027-01-06T12:00:00Z"),
            end: utc("2027-01-07T12:00:00Z"),
        };
        let shifts = l.shifts(
            utc("2027-01-04T09:00:00Z"),
            utc("2027-01-11T09:00:00Z"),
            &[cover],
        );
        assert_eq!(
            spans(&shifts),
            [
                span("a", "2027-01-04T09:00Z", "2027-01-06T12:00Z"),
                span("c", "2027-01-06T12:00Z", "2027-01-07T12:00Z"),
                span("a", "2027-01-07T12:00Z", "2027-01-11T09:00Z"),
            ]
        );
        assert!(shifts[1].covering);
        let (now, next) = l.at(
            utc("2027-01-06T13:00:00Z"),
            Duration::days(30),
            &shifts_as_covers(&shifts),
        );
        assert_eq!(now.map(|s| s.person), Some("c".to_owned()));
        assert_eq!(next.map(|s| s.person), Some("a".to_owned()));
    }

    /// The covering shifts of a listing, as covers again (what the database would hold).
    fn shifts_as_covers(shifts: &[Shift]) -> Vec<Cover> {
        shifts
            .iter()
            .filter(|s| s.covering)
            .map(|s| Cover {
                person: s.person.clone(),
                start: s.start,
                end: s.end,
            })
            .collect()
    }

    #[test]
    fn a_later_cover_wins_over_an_earlier_one_where_they_overlap() {
        let l = layer(rotation(
            &["a"],
            Length::Days(7),
            "2027-01-04",
            "09:00",
            chrono_tz::UTC,
        ));
        let covers = [
            Cover {
                person: "b".into(),
                start: utc("2027-01-05T00:00:00Z"),
                end: utc("2027-01-07T00:00:00Z"),
            },
            Cover {
                person: "c".into(),
                start: utc("2027-01-06T00:00:00Z"),
                end: utc("2027-01-08T00:00:00Z"),
            },
        ];
        let shifts = l.shifts(
            utc("2027-01-05T00:00:00Z"),
            utc("2027-01-09T00:00:00Z"),
            &covers,
        );
        assert_eq!(
            spans(&shifts),
            [
                span("b", "2027-01-05T00:00Z", "2027-01-06T00:00Z"),
                span("c", "2027-01-06T00:00Z", "2027-01-08T00:00Z"),
                span("a", "2027-01-08T00:00Z", "2027-01-09T00:00Z"),
            ]
        );
    }

    #[test]
    fn gaps_are_where_no_layer_has_anyone() {
        let t = |h: u32| utc(&format!("2027-01-04T{h:02}:00:00Z"));
        let shift = |p: &str, a: u32, b: u32| Shift {
            person: p.into(),
            start: t(a),
            end: t(b),
            covering: false,
        };
        let layers = [
            vec![shift("a", 1, 3), shift("a", 5, 6)],
            vec![shift("b", 2, 4)],
        ];
        assert_eq!(
            gaps(t(0), t(8), &layers),
            [(t(0), t(1)), (t(4), t(5)), (t(6), t(8))]
        );
        assert!(gaps(t(1), t(4), &layers).is_empty());
    }

    #[test]
    fn far_dates_do_not_panic() {
        let r = rotation(
            &["a"],
            Length::Days(366),
            "2027-01-04",
            "09:00",
            chrono_tz::UTC,
        );
        assert_eq!(r.shift_start(i64::MAX), None);
        assert_eq!(r.shift_start(i64::MIN), None);
        let far = DateTime::<Utc>::MAX_UTC;
        let _ = layer(r).at(far, Duration::days(30), &[]);
    }

    proptest::proptest! {
        /// After its start, an unrestricted rotation tiles any span: no gap, no overlap, each
        /// shift between a day and a few hours off its nominal length, in any zone.
        #[test]
        fn an_unrestricted_rotation_tiles_every_span(
            zone_index in 0usize..chrono_tz::TZ_VARIANTS.len(),
            days in 1u32..15,
            people in 1usize..5,
            offset_hours in 0i64..(24 * 800),
            span_hours in 1i64..(24 * 60),
            handoff_minutes in 0u32..(24 * 60),
        ) {
            let zone = chrono_tz::TZ_VARIANTS[zone_index];
            let names: Vec<String> = (0..people).map(|i| format!("p{i}")).collect();
            let r = Rotation {
                participants: names,
                length: Length::Days(days),
                start: date("2026-01-01"),
                handoff: NaiveTime::from_num_seconds_from_midnight_opt(handoff_minutes * 60, 0)
                    .unwrap_or(NaiveTime::MIN),
                zone,
            };
            let Some(first) = r.shift_start(0) else { return Ok(()) };
            let from = first + Duration::hours(offset_hours);
            let to = from + Duration::hours(span_hours);
            let shifts = layer(r.clone()).shifts(from, to, &[]);
            proptest::prop_assert!(!shifts.is_empty());
            proptest::prop_assert_eq!(shifts[0].start, from);
            proptest::prop_assert_eq!(shifts[shifts.len() - 1].end, to);
            for pair in shifts.windows(2) {
                proptest::prop_assert_eq!(pair[0].end, pair[1].start);
            }
            for k in 0..20 {
                let (Some(a), Some(b)) = (r.shift_start(k), r.shift_start(k + 1)) else { break };
                let hours = (b - a).num_hours();
                let nominal = i64::from(days) * 24;
                proptest::prop_assert!((nominal - 26..=nominal + 26).contains(&hours), "{hours} h");
                proptest::prop_assert_eq!(r.index_at(a), Some(k));
            }
        }
    }
}
