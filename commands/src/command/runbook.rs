//! `/inc runbook list|show <id>|start <id>`: the team's runbooks, from versioned files.
//!
//! ```text
//! runbook list            anywhere
//! runbook show <id>       anywhere
//! runbook start <id>      in an incident: attach it and post its triage checklist
//! ```

use serde::{Deserialize, Serialize};

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, UserError};

/// What `/inc runbook` does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunbookCmd {
    List,
    Show { id: String },
    Start { id: String },
}

pub const SPEC: Spec = Spec {
    name: "runbook",
    aliases: &["rb", "runbooks"],
    usage: "runbook <list|show <id>|start <id>>",
    summary: "List or show runbooks (anywhere), or start one in this incident.",
    scope: Scope::Anywhere,
    args: &[
        Arg {
            name: "action",
            kind: ArgKind::Word,
            required: true,
            help: "list, show or start",
        },
        Arg {
            name: "id",
            kind: ArgKind::Word,
            required: false,
            help: "The runbook's id",
        },
    ],
    example: "/inc runbook start api-5xx",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let action = words.next().unwrap_or("list");
    let cmd = match action.to_ascii_lowercase().as_str() {
        "list" | "ls" => RunbookCmd::List,
        "show" | "start" => {
            let id = words
                .next()
                .ok_or_else(|| usage(&SPEC, "Which runbook? `/inc runbook list` shows them."))?
                .to_ascii_lowercase();
            if action.eq_ignore_ascii_case("show") {
                RunbookCmd::Show { id }
            } else {
                RunbookCmd::Start { id }
            }
        }
        _ => {
            return Err(usage(
                &SPEC,
                &format!(
                    "`{}` is not list, show or start.",
                    crate::values::shorten(action, 20)
                ),
            ));
        }
    };
    words.finish(&SPEC)?;
    Ok(Command::Runbook { runbook: cmd })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        let rb = |runbook| Ok(Command::Runbook { runbook });
        check("runbook", rb(RunbookCmd::List));
        check("runbook list", rb(RunbookCmd::List));
        check(
            "rb show API-5xx",
            rb(RunbookCmd::Show {
                id: "api-5xx".into(),
            }),
        );
        check(
            "runbook start kill-switch",
            rb(RunbookCmd::Start {
                id: "kill-switch".into(),
            }),
        );
        check(
            "runbook start",
            Err(
                "Which runbook? `/inc runbook list` shows them. Usage: `/inc runbook <list|show <id>|start <id>>`.",
            ),
        );
        check(
            "runbook open x",
            Err(
                "`open` is not list, show or start. Usage: `/inc runbook <list|show <id>|start <id>>`.",
            ),
        );
    }
}
