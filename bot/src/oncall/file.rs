//! Schedule files as written (`oncall/<name>.toml`), turned into a `Schedule` with a
//! file:line:column problem for everything wrong in them.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;
use toml::Spanned;

use super::rotation::{Layer, Length, Restriction, Rotation};
use super::{Problem, Schedule};
use crate::files::Lines;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    /// The default IANA time zone of every layer.
    time_zone: Option<Spanned<String>>,
    /// Whether times with nobody on call are expected (a business-hours-only schedule).
    #[serde(default)]
    allow_gaps: bool,
    #[serde(default)]
    layers: Vec<Spanned<RawLayer>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    name: Spanned<String>,
    participants: Spanned<Vec<Spanned<String>>>,
    rotation: Spanned<String>,
    start: Spanned<String>,
    handoff: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    restrict: Option<Spanned<RawRestriction>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestriction {
    days: Option<Spanned<Vec<Spanned<String>>>>,
    hours: Option<Spanned<String>>,
}

/// The rule for schedule and layer names, as they are typed in chat.
pub const NAME_RULE: &str = "lowercase letters, digits and -, starting with a letter, at most 40";

/// Whether `name` is a valid schedule or layer name.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parses one schedule file; the schedule's name is the file's stem.
pub fn parse(file: &Path, text: &str) -> Result<Schedule, Vec<Problem>> {
    let lines = Lines { file, text };
    let raw: RawSchedule = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        vec![lines.at(span, e.message().to_owned())]
    })?;
    let mut problems = Vec::new();
    let name = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    if !valid_name(&name) {
        problems.push(lines.at(0..0, format!("the file name `{name}` must be {NAME_RULE}")));
    } else if klaxon_commands::ONCALL_WORDS.contains(&name.as_str()) {
        problems.push(lines.at(
            0..0,
            format!("`{name}` is a word of `/inc oncall`; name the schedule otherwise"),
        ));
    }
    let default_zone = match &raw.time_zone {
        Some(z) => zone(&lines, z, &mut problems),
        None => Some(chrono_tz::UTC),
    };
    if raw.layers.is_empty() {
        problems.push(lines.at(0..0, "a schedule needs at least one [[layers]] table"));
    }
    let mut names = BTreeSet::new();
    let mut layers = Vec::new();
    for raw_layer in &raw.layers {
        let layer = raw_layer.get_ref();
        let layer_name = layer.name.get_ref();
        if !valid_name(layer_name) {
            problems.push(lines.at(
                layer.name.span(),
                format!("layer name `{layer_name}` must be {NAME_RULE}"),
            ));
        } else if !names.insert(layer_name.clone()) {
            problems.push(lines.at(
                layer.name.span(),
                format!("a second layer named `{layer_name}`"),
            ));
        }
        if let Some(l) = parse_layer(&lines, layer, default_zone, &mut problems) {
            layers.push(l);
        }
    }
    if problems.is_empty() {
        Ok(Schedule {
            name,
            file: file.to_path_buf(),
            allow_gaps: raw.allow_gaps,
            layers,
        })
    } else {
        Err(problems)
    }
}

fn parse_layer(
    lines: &Lines<'_>,
    raw: &RawLayer,
    default_zone: Option<chrono_tz::Tz>,
    problems: &mut Vec<Problem>,
) -> Option<Layer> {
    let before = problems.len();
    let participants = participants(lines, &raw.participants, problems);
    let length = length(lines, &raw.rotation, problems);
    let start = NaiveDate::parse_from_str(raw.start.get_ref(), "%Y-%m-%d")
        .map_err(|_| {
            problems.push(lines.at(
                raw.start.span(),
                format!("start `{}` must be a date, YYYY-MM-DD", raw.start.get_ref()),
            ));
        })
        .ok();
    let handoff = match &raw.handoff {
        None => NaiveTime::from_hms_opt(9, 0, 0),
        Some(h) => clock_time(lines, h, "handoff", problems),
    };
    let zone = match &raw.time_zone {
        Some(z) => zone(lines, z, problems),
        None => default_zone,
    };
    let restriction = raw
        .restrict
        .as_ref()
        .and_then(|r| restriction(lines, r, problems));
    if problems.len() > before {
        return None;
    }
    Some(Layer {
        name: raw.name.get_ref().clone(),
        rotation: Rotation {
            participants,
            length: length?,
            start: start?,
            handoff: handoff?,
            zone: zone?,
        },
        restriction: if raw.restrict.is_some() {
            Some(restriction?)
        } else {
            None
        },
    })
}

fn participants(
    lines: &Lines<'_>,
    raw: &Spanned<Vec<Spanned<String>>>,
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    if raw.get_ref().is_empty() {
        problems.push(lines.at(raw.span(), "a layer needs at least one participant"));
    }
    if raw.get_ref().len() > 100 {
        problems.push(lines.at(raw.span(), "at most 100 participants in a layer"));
    }
    let mut out = Vec::new();
    for p in raw.get_ref() {
        let id = p.get_ref().trim();
        if id.starts_with("<@") || id.starts_with('@') {
            problems.push(lines.at(
                p.span(),
                format!("write the id alone, without <@ > or @: `{id}`"),
            ));
        } else if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            problems.push(lines.at(
                p.span(),
                format!(
                    "participant `{id}` must be a platform id (Slack U…, a Discord id) or a console name: letters, digits, _ - ., at most 64"
                ),
            ));
        } else {
            out.push(id.to_owned());
        }
    }
    out
}

fn length(lines: &Lines<'_>, raw: &Spanned<String>, problems: &mut Vec<Problem>) -> Option<Length> {
    let text = raw.get_ref().trim();
    let parsed = match text {
        "daily" => Some(Length::Days(1)),
        "weekly" => Some(Length::Days(7)),
        _ => {
            let (n, unit) = text.split_at(text.len().saturating_sub(1));
            match (n.parse::<u32>(), unit) {
                (Ok(n @ 1..=366), "d") => Some(Length::Days(n)),
                (Ok(n @ 1..=8784), "h") => Some(Length::Hours(n)),
                _ => None,
            }
        }
    };
    if parsed.is_none() {
        problems.push(lines.at(
            raw.span(),
            format!(
                "rotation `{text}` must be daily, weekly, a number of days (3d, at most 366d) or of hours (12h)"
            ),
        ));
    }
    parsed
}

fn zone(
    lines: &Lines<'_>,
    raw: &Spanned<String>,
    problems: &mut Vec<Problem>,
) -> Option<chrono_tz::Tz> {
    let parsed = raw.get_ref().parse::<chrono_tz::Tz>().ok();
    if parsed.is_none() {
        problems.push(lines.at(
            raw.span(),
            format!(
                "time_zone `{}` is not an IANA time zone, such as Europe/Paris or America/New_York",
                raw.get_ref()
            ),
        ));
    }
    parsed
}

fn clock_time(
    lines: &Lines<'_>,
    raw: &Spanned<String>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<NaiveTime> {
    let parsed = NaiveTime::parse_from_str(raw.get_ref(), "%H:%M").ok();
    if parsed.is_none() {
        problems.push(lines.at(
            raw.span(),
            format!("{key} `{}` must be a local time, HH:MM", raw.get_ref()),
        ));
    }
    parsed
}

fn restriction(
    lines: &Lines<'_>,
    raw: &Spanned<RawRestriction>,
    problems: &mut Vec<Problem>,
) -> Option<Restriction> {
    let r = raw.get_ref();
    let before = problems.len();
    let mut days = Vec::new();
    match &r.days {
        None => days = ALL_DAYS.to_vec(),
        Some(list) => {
            if list.get_ref().is_empty() {
                problems.push(lines.at(list.span(), "days must name at least one day"));
            }
            for d in list.get_ref() {
                match weekday(d.get_ref()) {
                    Some(day) if days.contains(&day) => {
                        problems
                            .push(lines.at(d.span(), format!("`{}` is listed twice", d.get_ref())));
                    }
                    Some(day) => days.push(day),
                    None => problems.push(lines.at(
                        d.span(),
                        format!(
                            "`{}` is not a day: mon, tue, wed, thu, fri, sat or sun",
                            d.get_ref()
                        ),
                    )),
                }
            }
        }
    }
    let hours = match &r.hours {
        None => None,
        Some(h) => {
            let window = h.get_ref().split_once('-').and_then(|(a, b)| {
                let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
                let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
                (a != b).then_some((a, b))
            });
            if window.is_none() {
                problems.push(lines.at(
                    h.span(),
                    format!(
                        "hours `{}` must be a local window, HH:MM-HH:MM (22:00-06:00 runs overnight)",
                        h.get_ref()
                    ),
                ));
            }
            window
        }
    };
    (problems.len() == before).then_some(Restriction { days, hours })
}

const ALL_DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
time_zone = "Europe/Berlin"

[[layers]]
name = "primary"
participants = ["U0ALICE", "U0BOB"]
rotation = "weekly"
start = "2026-11-02"
handoff = "09:00"

[[layers]]
name = "secondary"
participants = ["U0CAROL"]
rotation = "3d"
start = "2026-11-02"
time_zone = "America/New_York"

[layers.restrict]
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-17:00"
"#;

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("oncall/payments.toml"), text) {
            Ok(_) => Vec::new(),
            Err(p) => p.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn a_good_file_parses_into_its_layers() {
        let s = parse(Path::new("oncall/payments.toml"), GOOD).expect("valid");
        assert_eq!(s.name, "payments");
        assert_eq!(s.layers.len(), 2);
        assert_eq!(s.layers[0].rotation.zone, chrono_tz::Europe::Berlin);
        assert_eq!(s.layers[0].rotation.length, Length::Days(7));
        assert_eq!(s.layers[1].rotation.zone, chrono_tz::America::New_York);
        assert_eq!(s.layers[1].rotation.length, Length::Days(3));
        assert_eq!(
            s.layers[1].rotation.handoff,
            NaiveTime::from_hms_opt(9, 0, 0).expect("time")
        );
        let r = s.layers[1].restriction.as_ref().expect("restricted");
        assert_eq!(r.days.len(), 5);
    }

    #[test]
    fn each_mistake_is_reported_at_its_line() {
        let bad = r#"time_zone = "Mars/Olympus"

[[layers]]
name = "Primary"
participants = []
rotation = "fortnightly"
start = "2026-13-01"
handoff = "9am"

[[layers]]
name = "b"
participants = ["<@U0ALICE>", "has space"]
rotation = "0d"
start = "2026-11-02"

[layers.restrict]
days = ["mon", "mon", "funday"]
hours = "09:00-09:00"
"#;
        assert_eq!(
            problems(bad),
            [
                "oncall/payments.toml:1:13: time_zone `Mars/Olympus` is not an IANA time zone, such as Europe/Paris or America/New_York",
                "oncall/payments.toml:4:8: layer name `Primary` must be lowercase letters, digits and -, starting with a letter, at most 40",
                "oncall/payments.toml:5:16: a layer needs at least one participant",
                "oncall/payments.toml:6:12: rotation `fortnightly` must be daily, weekly, a number of days (3d, at most 366d) or of hours (12h)",
                "oncall/payments.toml:7:9: start `2026-13-01` must be a date, YYYY-MM-DD",
                "oncall/payments.toml:8:11: handoff `9am` must be a local time, HH:MM",
                "oncall/payments.toml:12:17: write the id alone, without <@ > or @: `<@U0ALICE>`",
                "oncall/payments.toml:12:31: participant `has space` must be a platform id (Slack U…, a Discord id) or a console name: letters, digits, _ - ., at most 64",
                "oncall/payments.toml:13:12: rotation `0d` must be daily, weekly, a number of days (3d, at most 366d) or of hours (12h)",
                "oncall/payments.toml:17:16: `mon` is listed twice",
                "oncall/payments.toml:17:23: `funday` is not a day: mon, tue, wed, thu, fri, sat or sun",
                "oncall/payments.toml:18:9: hours `09:00-09:00` must be a local window, HH:MM-HH:MM (22:00-06:00 runs overnight)",
            ]
        );
    }

    #[test]
    fn unknown_keys_and_empty_files_are_refused() {
        let unknown = "[[layers]]\nname = \"a\"\nparticipants = [\"x\"]\nrotation = \"daily\"\nstart = \"2026-11-02\"\ncolour = \"red\"\n";
        let p = problems(unknown);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].starts_with("oncall/payments.toml:6:1: unknown field `colour`"),
            "{p:?}"
        );
        assert_eq!(
            problems(""),
            ["oncall/payments.toml:1:1: a schedule needs at least one [[layers]] table"]
        );
    }

    #[test]
    fn a_schedule_cannot_take_a_word_of_the_command() {
        let text = "[[layers]]\nname = \"a\"\nparticipants = [\"x\"]\nrotation = \"daily\"\nstart = \"2026-11-02\"\n";
        let err = parse(Path::new("oncall/covers.toml"), text).expect_err("reserved");
        assert_eq!(
            err[0].to_string(),
            "oncall/covers.toml:1:1: `covers` is a word of `/inc oncall`; name the schedule otherwise"
        );
    }

    #[test]
    fn two_layers_with_one_name_are_refused() {
        let text = "[[layers]]\nname = \"a\"\nparticipants = [\"x\"]\nrotation = \"daily\"\nstart = \"2026-11-02\"\n[[layers]]\nname = \"a\"\nparticipants = [\"y\"]\nrotation = \"daily\"\nstart = \"2026-11-02\"\n";
        assert_eq!(
            problems(text),
            ["oncall/payments.toml:7:8: a second layer named `a`"]
        );
    }
}
