//! Tests of rotations: DST in two zones, skipped and repeated hours, leap days, restrictions,
//! covers, gaps, and a property test over every zone.

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
fn a_handoff_in_the_american_spring_gap_moves_to_the_end_of_the_gap() {
    // New York skips 02:00-03:00 on Sunday 2027-03-14: 02:30 happens at 03:00 EDT.
    let r = rotation(
        &["a", "b"],
        Length::Days(1),
        "2027-03-13",
        "02:30",
        chrono_tz::America::New_York,
    );
    assert_eq!(r.shift_start(0), Some(utc("2027-03-13T07:30:00Z")));
    assert_eq!(r.shift_start(1), Some(utc("2027-03-14T07:00:00Z")));
    assert_eq!(r.shift_start(2), Some(utc("2027-03-15T06:30:00Z")));
    // Who holds it is decided by the moved handoff, not the nominal one.
    assert_eq!(r.index_at(utc("2027-03-14T06:59:59Z")), Some(0));
    assert_eq!(r.index_at(utc("2027-03-14T07:00:00Z")), Some(1));
}

#[test]
fn a_handoff_in_the_european_autumn_fold_takes_the_earlier_one() {
    // 02:30 happens twice in Berlin on 2026-10-25: first in CEST (00:30 UTC), then CET.
    let r = rotation(
        &["a", "b"],
        Length::Days(1),
        "2026-10-24",
        "02:30",
        chrono_tz::Europe::Berlin,
    );
    assert_eq!(r.shift_start(0), Some(utc("2026-10-24T00:30:00Z")));
    assert_eq!(r.shift_start(1), Some(utc("2026-10-25T00:30:00Z")));
    assert_eq!(r.shift_start(2), Some(utc("2026-10-26T01:30:00Z")));
    // During the repeated hour the second person holds it, the whole of both occurrences.
    assert_eq!(r.index_at(utc("2026-10-25T01:15:00Z")), Some(1));
    // The shift over the fold is 25 hours.
    let shifts = layer(r).shifts(
        utc("2026-10-25T00:30:00Z"),
        utc("2026-10-26T01:30:00Z"),
        &[],
    );
    assert_eq!(
        spans(&shifts),
        [span("b", "2026-10-25T00:30Z", "2026-10-26T01:30Z")]
    );
}

#[test]
fn lord_howe_moves_its_clocks_by_half_an_hour_and_handoffs_follow() {
    // Lord Howe Island is UTC+10:30 in winter and UTC+11 in summer. On Sunday 2026-10-04 its
    // clocks go from 02:00 to 02:30, so a 02:15 handoff happens at 02:30 (15:30 UTC the day
    // before).
    let spring = rotation(
        &["a", "b"],
        Length::Days(1),
        "2026-10-03",
        "02:15",
        chrono_tz::Australia::Lord_Howe,
    );
    assert_eq!(spring.shift_start(0), Some(utc("2026-10-02T15:45:00Z")));
    assert_eq!(spring.shift_start(1), Some(utc("2026-10-03T15:30:00Z")));
    assert_eq!(spring.shift_start(2), Some(utc("2026-10-04T15:15:00Z")));
    // On Sunday 2027-04-04 they go back from 02:00 to 01:30: a 01:45 handoff takes the first
    // 01:45 (UTC+11), and the shift after the change is 24 hours and a half.
    let autumn = rotation(
        &["a", "b"],
        Length::Days(1),
        "2027-04-03",
        "01:45",
        chrono_tz::Australia::Lord_Howe,
    );
    assert_eq!(autumn.shift_start(0), Some(utc("2027-04-02T14:45:00Z")));
    assert_eq!(autumn.shift_start(1), Some(utc("2027-04-03T14:45:00Z")));
    assert_eq!(autumn.shift_start(2), Some(utc("2027-04-04T15:15:00Z")));
    let shifts = layer(autumn).shifts(
        utc("2027-04-03T14:45:00Z"),
        utc("2027-04-05T15:15:00Z"),
        &[],
    );
    assert_eq!(
        spans(&shifts),
        [
            span("b", "2027-04-03T14:45Z", "2027-04-04T15:15Z"),
            span("a", "2027-04-04T15:15Z", "2027-04-05T15:15Z"),
        ]
    );
    assert_eq!(
        (shifts[0].end - shifts[0].start).num_minutes(),
        24 * 60 + 30
    );
}

#[test]
fn a_weekly_rotation_from_a_leap_day_keeps_its_local_time_into_summer_time() {
    // Started on Tuesday 2028-02-29 at 09:00 in New York (EST, UTC-5); summer time begins on
    // 2028-03-12, so the third shift starts at 13:00 UTC after 167 hours.
    let r = rotation(
        &["a", "b"],
        Length::Days(7),
        "2028-02-29",
        "09:00",
        chrono_tz::America::New_York,
    );
    assert_eq!(r.shift_start(0), Some(utc("2028-02-29T14:00:00Z")));
    assert_eq!(r.shift_start(1), Some(utc("2028-03-07T14:00:00Z")));
    assert_eq!(r.shift_start(2), Some(utc("2028-03-14T13:00:00Z")));
    // A year on there is no 29 February: the rotation goes on by days, not by dates.
    assert_eq!(r.index_at(utc("2029-02-28T12:00:00Z")), Some(52));
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
