//! `/inc followup add|list|done`: action items that feed the postmortem.
//!
//! ```text
//! followup add <text> [@owner] [due YYYY-MM-DD]
//! followup list
//! followup done <n>
//! ```
//! The owner and due date are read from the end of the line, so the text can be anything.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, Text, UserError, UserRef};

/// What `/inc followup` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Followup {
    Add {
        text: Text,
        owner: Option<UserRef>,
        due: Option<NaiveDate>,
    },
    List,
    Done {
        item: u32,
    },
}

pub const SPEC: Spec = Spec {
    name: "followup",
    aliases: &["action", "fu"],
    usage: "followup <add <text> [@owner] [due YYYY-MM-DD]|list|done <n>>",
    summary: "Track action items: add, list, done. They feed the postmortem.",
    scope: Scope::Incident,
    args: &[
        Arg {
            name: "action",
            kind: ArgKind::Word,
            required: true,
            help: "add, list or done",
        },
        Arg {
            name: "text",
            kind: ArgKind::Text,
            required: false,
            help: "add: the action, then optionally @owner and due YYYY-MM-DD; done: the number",
        },
    ],
    example: "/inc followup add Add an alert on payment timeouts @bob due 2026-12-04",
    parse,
};

fn parse(words: &mut Words<'_>, platform: PlatformKind) -> Result<Command, UserError> {
    let action = words
        .next()
        .ok_or_else(|| usage(&SPEC, "Add, list or done?"))?;
    let followup = match action.to_ascii_lowercase().as_str() {
        "add" | "new" => add(words.rest(), platform)?,
        "list" | "ls" => {
            words.finish(&SPEC)?;
            Followup::List
        }
        "done" | "close" => {
            let word = words
                .next()
                .ok_or_else(|| usage(&SPEC, "Which follow-up?"))?;
            let item = word
                .trim_start_matches('#')
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=999).contains(n))
                .ok_or_else(|| {
                    UserError::new(format!(
                        "`{}` is not a follow-up number. `/inc followup list` shows them.",
                        crate::values::shorten(word, 20)
                    ))
                })?;
            words.finish(&SPEC)?;
            Followup::Done { item }
        }
        _ => {
            return Err(usage(
                &SPEC,
                &format!(
                    "`{}` is not add, list or done.",
                    crate::values::shorten(action, 20)
                ),
            ));
        }
    };
    Ok(Command::Followup { followup })
}

fn add(rest: &str, platform: PlatformKind) -> Result<Followup, UserError> {
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    let mut due = None;
    if words.len() >= 2 && words[words.len() - 2].eq_ignore_ascii_case("due") {
        let raw = words[words.len() - 1];
        let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
            UserError::new(format!(
                "`{}` is not a date. Write it as YYYY-MM-DD, e.g. `due 2026-12-04`.",
                crate::values::shorten(raw, 20)
            ))
        })?;
        due = Some(date);
        words.truncate(words.len() - 2);
    }
    let mut owner = None;
    if let Some(last) = words.last()
        && let Ok(user) = platform.parse_mention(last)
    {
        owner = Some(user);
        words.pop();
    }
    let text = Text::parse(&words.join(" "), "the follow-up", SPEC.example)?;
    Ok(Followup::Add { text, owner, due })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, check_on};
    use super::*;

    fn add(
        text: &str,
        owner: Option<UserRef>,
        due: Option<(i32, u32, u32)>,
    ) -> Result<Command, &'static str> {
        Ok(Command::Followup {
            followup: Followup::Add {
                text: Text::parse(text, "", "").expect("valid"),
                owner,
                due: due.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
            },
        })
    }

    #[test]
    fn grammar() {
        check(
            "followup add Alert on timeouts @bob due 2026-12-04",
            add(
                "Alert on timeouts",
                Some(UserRef::named("bob", "bob")),
                Some((2026, 12, 4)),
            ),
        );
        check(
            "followup add Alert on timeouts",
            add("Alert on timeouts", None, None),
        );
        check(
            "fu add Ask @carol about retries due 2026-01-31",
            add("Ask @carol about retries", None, Some((2026, 1, 31))),
        );
        check(
            "followup add Fix the thing @dave",
            add("Fix the thing", Some(UserRef::named("dave", "dave")), None),
        );
        check_on(
            PlatformKind::Slack,
            "followup add Fix <@U1|bob>",
            add("Fix", Some(UserRef::named("U1", "bob")), None),
        );
        check(
            "followup list",
            Ok(Command::Followup {
                followup: Followup::List,
            }),
        );
        check(
            "followup done 2",
            Ok(Command::Followup {
                followup: Followup::Done { item: 2 },
            }),
        );
    }

    #[test]
    fn errors() {
        check(
            "followup",
            Err(
                "Add, list or done? Usage: `/inc followup <add <text> [@owner] [due YYYY-MM-DD]|list|done <n>>`.",
            ),
        );
        check(
            "followup add",
            Err(
                "Say what the follow-up is, e.g. `/inc followup add Add an alert on payment timeouts @bob due 2026-12-04`.",
            ),
        );
        check(
            "followup add @bob",
            Err(
                "Say what the follow-up is, e.g. `/inc followup add Add an alert on payment timeouts @bob due 2026-12-04`.",
            ),
        );
        check(
            "followup add x due tomorrow",
            Err("`tomorrow` is not a date. Write it as YYYY-MM-DD, e.g. `due 2026-12-04`."),
        );
        check(
            "followup add x due 2026-02-30",
            Err("`2026-02-30` is not a date. Write it as YYYY-MM-DD, e.g. `due 2026-12-04`."),
        );
        check(
            "followup done x",
            Err("`x` is not a follow-up number. `/inc followup list` shows them."),
        );
        check(
            "followup remove 1",
            Err(
                "`remove` is not add, list or done. Usage: `/inc followup <add <text> [@owner] [due YYYY-MM-DD]|list|done <n>>`.",
            ),
        );
    }
}
