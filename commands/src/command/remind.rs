//! `/inc remind`: tune this incident's status-update reminders.
//!
//! ```text
//! remind snooze <duration>    next reminder in <duration>, then the cadence again
//! remind every <duration>     a cadence of its own for this incident
//! remind off                  no update reminders or checklist nudges (escalation stays)
//! remind on                   back to the cadence
//! ```
//! Durations like `90s`, `15m`, `1h30m`, from one minute to one day.

use serde::{Deserialize, Serialize};

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{Duration, PlatformKind, UserError};

/// Shortest and longest accepted reminder durations, in seconds.
const MIN_SECS: u64 = 60;
const MAX_SECS: u64 = 86_400;

/// What `/inc remind` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remind {
    Snooze(Duration),
    Every(Duration),
    Off,
    On,
}

pub const SPEC: Spec = Spec {
    name: "remind",
    aliases: &["reminders"],
    usage: "remind <snooze <duration>|every <duration>|off|on>",
    summary: "Snooze, re-time, stop or restart update reminders.",
    scope: Scope::Incident,
    args: &[
        Arg {
            name: "action",
            kind: ArgKind::Word,
            required: true,
            help: "snooze, every, off or on",
        },
        Arg {
            name: "duration",
            kind: ArgKind::Word,
            required: false,
            help: "For snooze and every: 90s, 15m, 1h30m",
        },
    ],
    example: "/inc remind snooze 30m",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let action = words
        .next()
        .ok_or_else(|| usage(&SPEC, "Snooze, every, off or on?"))?;
    let remind = match action.to_ascii_lowercase().as_str() {
        "snooze" => Remind::Snooze(duration(words, "snooze")?),
        "every" => Remind::Every(duration(words, "every")?),
        "off" | "stop" => Remind::Off,
        "on" | "start" => Remind::On,
        _ => {
            return Err(usage(
                &SPEC,
                &format!(
                    "`{}` is not snooze, every, off or on.",
                    crate::values::shorten(action, 20)
                ),
            ));
        }
    };
    words.finish(&SPEC)?;
    Ok(Command::Remind { remind })
}

fn duration(words: &mut Words<'_>, action: &str) -> Result<Duration, UserError> {
    let word = words
        .next()
        .ok_or_else(|| UserError::new(format!("How long? e.g. `/inc remind {action} 30m`.")))?;
    let d = Duration::parse(word)?;
    if !(MIN_SECS..=MAX_SECS).contains(&d.as_secs()) {
        return Err(UserError::new(format!(
            "Reminders can be 1m to 24h apart; `{word}` is not."
        )));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        let r = |remind| Ok(Command::Remind { remind });
        check(
            "remind snooze 30m",
            r(Remind::Snooze(Duration::from_secs(1800))),
        );
        check(
            "remind every 1h30m",
            r(Remind::Every(Duration::from_secs(5400))),
        );
        check(
            "remind every 90s",
            r(Remind::Every(Duration::from_secs(90))),
        );
        check("remind off", r(Remind::Off));
        check("reminders on", r(Remind::On));
    }

    #[test]
    fn errors() {
        check(
            "remind",
            Err(
                "Snooze, every, off or on? Usage: `/inc remind <snooze <duration>|every <duration>|off|on>`.",
            ),
        );
        check(
            "remind later",
            Err(
                "`later` is not snooze, every, off or on. Usage: `/inc remind <snooze <duration>|every <duration>|off|on>`.",
            ),
        );
        check(
            "remind snooze",
            Err("How long? e.g. `/inc remind snooze 30m`."),
        );
        check(
            "remind every soon",
            Err("`soon` is not a duration. Write it like `90s`, `15m` or `1h30m`."),
        );
        check(
            "remind every 10s",
            Err("Reminders can be 1m to 24h apart; `10s` is not."),
        );
        check(
            "remind snooze 2d",
            Err("Reminders can be 1m to 24h apart; `2d` is not."),
        );
        check(
            "remind off now",
            Err(
                "Too much after `remind`. Usage: `/inc remind <snooze <duration>|every <duration>|off|on>`.",
            ),
        );
    }
}
