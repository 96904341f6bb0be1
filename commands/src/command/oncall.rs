//! `/inc oncall`: who is on call, and covers that stand in for the rotation.
//!
//! ```text
//! oncall [schedule[/layer]]                       who is on call now, until when, who is next
//! oncall cover [@someone] <duration> [schedule[/layer]]
//! oncall cover [@someone] until <when> [schedule[/layer]]
//! oncall cover [@someone] from <when> until <when> [schedule[/layer]]
//! oncall cover [@someone] from <when> for <duration> [schedule[/layer]]
//! oncall covers [schedule]                        the covers now and ahead, with their numbers
//! oncall uncover <number>                         remove a cover
//! oncall swap @a @b <date> [HH:MM] [schedule[/layer]]
//! ```
//! A swap gives @b the shift @a holds at that UTC time, and @a the next shift @b holds after it.
//! `cover` without `@someone` is you. A duration is `4h`, `2d`; `<when>` is a UTC time: `18:00`
//! (the next one), `2026-12-24` (midnight) or `2026-12-24 18:00`. Without a layer, a cover
//! stands in for the schedule's first layer.

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{Duration, PlatformKind, UserError, UserRef};

/// The words after `oncall` that are not schedule names.
pub const RESERVED: [&str; 4] = ["cover", "covers", "uncover", "swap"];

/// A schedule, and optionally one of its layers, as typed: `payments` or `payments/secondary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRef {
    pub schedule: String,
    pub layer: Option<String>,
}

impl ScheduleRef {
    pub fn parse(raw: &str) -> Result<Self, UserError> {
        let (schedule, layer) = match raw.split_once('/') {
            Some((s, l)) => (s, Some(l)),
            None => (raw, None),
        };
        let valid = |name: &str| {
            !name.is_empty()
                && name.len() <= 40
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !valid(schedule) || layer.is_some_and(|l| !valid(l)) {
            return Err(UserError::new(format!(
                "`{}` is not a schedule. Write it like `payments` or `payments/secondary`.",
                crate::values::shorten(raw, 40)
            )));
        }
        Ok(Self {
            schedule: schedule.to_ascii_lowercase(),
            layer: layer.map(str::to_ascii_lowercase),
        })
    }
}

/// How long a cover lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverEnd {
    /// From now, for this long.
    For(Duration),
    /// Until a UTC time: a date and time, or the next occurrence of a time of day.
    Until {
        date: Option<NaiveDate>,
        time: NaiveTime,
    },
}

/// What `/inc oncall` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Oncall {
    Show {
        schedule: Option<ScheduleRef>,
    },
    Cover {
        /// `None`: the person who typed it.
        who: Option<UserRef>,
        /// When the cover begins, as a UTC time (`18:00`: the next one); `None`: now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<CoverEnd>,
        /// Counted from the start: `4h` after it, or `until 18:00` (the next one after it).
        end: CoverEnd,
        schedule: Option<ScheduleRef>,
    },
    Covers {
        schedule: Option<ScheduleRef>,
    },
    Uncover {
        number: u32,
    },
    Swap {
        a: UserRef,
        b: UserRef,
        /// A UTC time within the shift of `a` that `b` takes.
        date: NaiveDate,
        time: NaiveTime,
        schedule: Option<ScheduleRef>,
    },
}

pub const SPEC: Spec = Spec {
    name: "oncall",
    aliases: &["on-call", "who"],
    usage: "oncall [schedule] | oncall cover [@someone] <4h|until 18:00> [schedule] | oncall covers | oncall uncover <n> | oncall swap @a @b <date>",
    summary: "Who is on call, until when and who is next; cover for someone.",
    scope: Scope::Anywhere,
    args: &[
        Arg {
            name: "what",
            kind: ArgKind::Word,
            required: false,
            help: "A schedule (payments, payments/secondary), or cover, covers, uncover, swap",
        },
        Arg {
            name: "rest",
            kind: ArgKind::Text,
            required: false,
            help: "cover: [@someone] 4h or until 18:00 (UTC) [schedule]; swap: @a @b <date> [schedule]",
        },
    ],
    example: "/inc oncall cover @bob 4h payments",
    parse,
};

fn parse(words: &mut Words<'_>, platform: PlatformKind) -> Result<Command, UserError> {
    let oncall = match words.next() {
        None => Oncall::Show { schedule: None },
        Some(w) => match w.to_ascii_lowercase().as_str() {
            "cover" => cover(words, platform)?,
            "covers" => Oncall::Covers {
                schedule: words.next().map(ScheduleRef::parse).transpose()?,
            },
            "uncover" => {
                let n = words.next().ok_or_else(|| {
                    UserError::new(
                        "Which cover? `/inc oncall covers` lists them with their numbers.",
                    )
                })?;
                let number = n.trim_start_matches('#').parse::<u32>().map_err(|_| {
                    UserError::new(format!(
                        "`{}` is not a cover number. `/inc oncall covers` lists them.",
                        crate::values::shorten(n, 20)
                    ))
                })?;
                Oncall::Uncover { number }
            }
            "swap" => swap(words, platform)?,
            _ => Oncall::Show {
                schedule: Some(ScheduleRef::parse(w)?),
            },
        },
    };
    words.finish(&SPEC)?;
    Ok(Command::Oncall { oncall })
}

fn cover(words: &mut Words<'_>, platform: PlatformKind) -> Result<Oncall, UserError> {
    let how_long = || {
        UserError::new(
            "For how long? e.g. `/inc oncall cover 4h` or `/inc oncall cover until 18:00`.",
        )
    };
    let mut word = words.next().ok_or_else(how_long)?;
    let who = if word.starts_with(['@', '<']) {
        let who = platform.parse_mention(word)?;
        word = words.next().ok_or_else(how_long)?;
        Some(who)
    } else {
        None
    };
    let from = if word.eq_ignore_ascii_case("from") {
        let from = until(words)?;
        word = words.next().ok_or_else(|| {
            UserError::new(
                "Until when? e.g. `/inc oncall cover from 2026-12-24 09:00 until 2026-12-26 09:00` or `… from 18:00 for 12h` (UTC).",
            )
        })?;
        if word.eq_ignore_ascii_case("for") {
            word = words.next().ok_or_else(how_long)?;
        }
        Some(from)
    } else {
        None
    };
    let end = if word.eq_ignore_ascii_case("until") {
        until(words)?
    } else {
        CoverEnd::For(Duration::parse(word)?)
    };
    let schedule = words.next().map(ScheduleRef::parse).transpose()?;
    Ok(Oncall::Cover {
        who,
        from,
        end,
        schedule,
    })
}

fn swap(words: &mut Words<'_>, platform: PlatformKind) -> Result<Oncall, UserError> {
    let usage =
        || UserError::new("Who and when? e.g. `/inc oncall swap @alice @bob 2026-12-07` (UTC).");
    let a = platform.parse_mention(words.next().ok_or_else(usage)?)?;
    let b = platform.parse_mention(words.next().ok_or_else(usage)?)?;
    if a.id == b.id {
        return Err(UserError::new("A swap needs two different people."));
    }
    words.peek().ok_or_else(usage)?;
    let CoverEnd::Until {
        date: Some(date),
        time,
    } = until(words)?
    else {
        return Err(UserError::new(
            "Which day? A swap names a date: `/inc oncall swap @alice @bob 2026-12-07` (UTC).",
        ));
    };
    let schedule = words.next().map(ScheduleRef::parse).transpose()?;
    Ok(Oncall::Swap {
        a,
        b,
        date,
        time,
        schedule,
    })
}

/// `18:00`, `2026-12-24`, `2026-12-24 18:00`, each optionally followed by `UTC`.
fn until(words: &mut Words<'_>) -> Result<CoverEnd, UserError> {
    let bad = |w: &str| {
        UserError::new(format!(
            "`{}` is not a UTC time. Write `until 18:00`, `until 2026-12-24` or `until 2026-12-24 18:00`.",
            crate::values::shorten(w, 20)
        ))
    };
    let first = words
        .next()
        .ok_or_else(|| UserError::new("Until when? e.g. `/inc oncall cover until 18:00` (UTC)."))?;
    let time = |w: &str| NaiveTime::parse_from_str(w, "%H:%M").ok();
    let end = if let Some(t) = time(first) {
        CoverEnd::Until {
            date: None,
            time: t,
        }
    } else {
        let date = NaiveDate::parse_from_str(first, "%Y-%m-%d").map_err(|_| bad(first))?;
        let t = match words.peek().and_then(time) {
            Some(t) => {
                words.next();
                t
            }
            None => NaiveTime::MIN,
        };
        CoverEnd::Until {
            date: Some(date),
            time: t,
        }
    };
    if words.peek().is_some_and(|w| w.eq_ignore_ascii_case("utc")) {
        words.next();
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    fn sched(s: &str, l: Option<&str>) -> Option<ScheduleRef> {
        Some(ScheduleRef {
            schedule: s.into(),
            layer: l.map(Into::into),
        })
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
    }

    #[test]
    fn a_cover_may_start_later() {
        let at = |d: Option<(i32, u32, u32)>, h, m| CoverEnd::Until {
            date: d.and_then(|(y, mo, da)| NaiveDate::from_ymd_opt(y, mo, da)),
            time: time(h, m),
        };
        check(
            "oncall cover @bob from 2026-12-24 09:00 until 2026-12-26 09:00 UTC payments",
            Ok(Command::Oncall {
                oncall: Oncall::Cover {
                    who: Some(UserRef::named("bob", "bob")),
                    from: Some(at(Some((2026, 12, 24)), 9, 0)),
                    end: at(Some((2026, 12, 26)), 9, 0),
                    schedule: sched("payments", None),
                },
            }),
        );
        check(
            "oncall cover from 18:00 for 12h",
            Ok(Command::Oncall {
                oncall: Oncall::Cover {
                    who: None,
                    from: Some(at(None, 18, 0)),
                    end: CoverEnd::For(Duration::parse("12h").expect("12h")),
                    schedule: None,
                },
            }),
        );
        check(
            "oncall cover from 18:00 12h",
            Ok(Command::Oncall {
                oncall: Oncall::Cover {
                    who: None,
                    from: Some(at(None, 18, 0)),
                    end: CoverEnd::For(Duration::parse("12h").expect("12h")),
                    schedule: None,
                },
            }),
        );
        check(
            "oncall cover from 18:00",
            Err(
                "Until when? e.g. `/inc oncall cover from 2026-12-24 09:00 until 2026-12-26 09:00` or `… from 18:00 for 12h` (UTC).",
            ),
        );
    }

    #[test]
    fn grammar() {
        check(
            "oncall",
            Ok(Command::Oncall {
                oncall: Oncall::Show { schedule: None },
            }),
        );
        check(
            "oncall Payments/secondary",
            Ok(Command::Oncall {
                oncall: Oncall::Show {
                    schedule: sched("payments", Some("secondary")),
                },
            }),
        );
        check(
            "oncall cover 4h",
            Ok(Command::Oncall {
                oncall: Oncall::Cover {
                    who: None,
                    from: None,
                    end: CoverEnd::For(Duration::parse("4h").expect("4h")),
                    schedule: None,
                },
            }),
        );
        check(
            "oncall cover @bob until 2026-12-24 18:00 UTC payments",
            Ok(Command::Oncall {
                oncall: Oncall::Cover {
                    who: Some(UserRef::named("bob", "bob")),
                    from: None,
                    end: CoverEnd::Until {
                        date: NaiveDate::from_ymd_opt(2026, 12, 24),
                        time: time(18, 0),
                    },
                    schedule: sched("payments", None),
                },
            }),
        );
        check(
            "oncall cover until 18:30 payments/primary",
            Ok(Command::Oncall {
                oncall: Oncall::Cover {
                    who: None,
                    from: None,
                    end: CoverEnd::Until {
                        date: None,
                        time: time(18, 30),
                    },
                    schedule: sched("payments", Some("primary")),
                },
            }),
        );
        check(
            "oncall cover until 2026-12-24",
            Ok(Command::Oncall {
                oncall: Oncall::Cover {
                    who: None,
                    from: None,
                    end: CoverEnd::Until {
                        date: NaiveDate::from_ymd_opt(2026, 12, 24),
                        time: NaiveTime::MIN,
                    },
                    schedule: None,
                },
            }),
        );
        check(
            "oncall covers payments",
            Ok(Command::Oncall {
                oncall: Oncall::Covers {
                    schedule: sched("payments", None),
                },
            }),
        );
        check(
            "oncall uncover #3",
            Ok(Command::Oncall {
                oncall: Oncall::Uncover { number: 3 },
            }),
        );
    }

    #[test]
    fn swaps() {
        check(
            "oncall swap @alice @bob 2026-12-07 payments/secondary",
            Ok(Command::Oncall {
                oncall: Oncall::Swap {
                    a: UserRef::named("alice", "alice"),
                    b: UserRef::named("bob", "bob"),
                    date: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default(),
                    time: NaiveTime::MIN,
                    schedule: sched("payments", Some("secondary")),
                },
            }),
        );
        check(
            "oncall swap @alice @bob 2026-12-07 12:00 UTC",
            Ok(Command::Oncall {
                oncall: Oncall::Swap {
                    a: UserRef::named("alice", "alice"),
                    b: UserRef::named("bob", "bob"),
                    date: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default(),
                    time: time(12, 0),
                    schedule: None,
                },
            }),
        );
        check(
            "oncall swap @alice",
            Err("Who and when? e.g. `/inc oncall swap @alice @bob 2026-12-07` (UTC)."),
        );
        check(
            "oncall swap @alice @bob",
            Err("Who and when? e.g. `/inc oncall swap @alice @bob 2026-12-07` (UTC)."),
        );
        check(
            "oncall swap @alice @alice 2026-12-07",
            Err("A swap needs two different people."),
        );
        check(
            "oncall swap @alice @bob 18:00",
            Err("Which day? A swap names a date: `/inc oncall swap @alice @bob 2026-12-07` (UTC)."),
        );
    }

    #[test]
    fn mistakes() {
        check(
            "oncall cover",
            Err("For how long? e.g. `/inc oncall cover 4h` or `/inc oncall cover until 18:00`."),
        );
        check(
            "oncall cover @bob",
            Err("For how long? e.g. `/inc oncall cover 4h` or `/inc oncall cover until 18:00`."),
        );
        check(
            "oncall cover soon",
            Err("`soon` is not a duration. Write it like `90s`, `15m` or `1h30m`."),
        );
        check(
            "oncall cover until teatime",
            Err(
                "`teatime` is not a UTC time. Write `until 18:00`, `until 2026-12-24` or `until 2026-12-24 18:00`.",
            ),
        );
        check(
            "oncall cover until",
            Err("Until when? e.g. `/inc oncall cover until 18:00` (UTC)."),
        );
        check(
            "oncall uncover",
            Err("Which cover? `/inc oncall covers` lists them with their numbers."),
        );
        check(
            "oncall uncover x",
            Err("`x` is not a cover number. `/inc oncall covers` lists them."),
        );
        check(
            "oncall pay_ments",
            Err("`pay_ments` is not a schedule. Write it like `payments` or `payments/secondary`."),
        );
        check(
            "oncall payments extra",
            Err(
                "Too much after `oncall`. Usage: `/inc oncall [schedule] | oncall cover [@someone] <4h|until 18:00> [schedule] | oncall covers | oncall uncover <n> | oncall swap @a @b <date>`.",
            ),
        );
    }
}
