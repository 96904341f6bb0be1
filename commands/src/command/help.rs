//! `/inc help [command]`: the command list, or one command's usage. Works anywhere.
//!
//! ```text
//! help
//! help <command>
//! ```
//! The text is generated from the same [`Spec`] table the parser dispatches on.

use super::{Arg, ArgKind, Command, Scope, Spec, Words, spec, specs};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "help",
    aliases: &["?"],
    usage: "help [command]",
    summary: "List commands, or explain one.",
    scope: Scope::Anywhere,
    args: &[Arg {
        name: "command",
        kind: ArgKind::Word,
        required: false,
        help: "The command to explain",
    }],
    example: "/inc help sev",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let topic = match words.next() {
        None => None,
        Some(word) => match spec(word) {
            Some(s) => Some(s.name.to_owned()),
            None => return Err(super::unknown(word)),
        },
    };
    words.finish(&SPEC)?;
    Ok(Command::Help { topic })
}

/// The help text for `topic` (a command name), or the overview, one line per command.
pub fn text(topic: Option<&str>) -> String {
    match topic.and_then(spec) {
        Some(s) => {
            let mut out = format!("/inc {}\n{}", s.usage, s.summary);
            if !s.aliases.is_empty() {
                out.push_str(&format!("\nAlso: {}", s.aliases.join(", ")));
            }
            if s.scope == Scope::Incident {
                out.push_str("\nType it in the incident's channel.");
            }
            out.push_str(&format!("\nExample: {}", s.example));
            out
        }
        None => {
            let mut out = String::from(
                "Klaxon incident commands (type them in the incident's channel unless marked anywhere):",
            );
            for s in specs() {
                let anywhere = if s.scope == Scope::Anywhere {
                    " (anywhere)"
                } else {
                    ""
                };
                out.push_str(&format!("\n/inc {} — {}{anywhere}", s.usage, s.summary));
            }
            out.push_str("\n`/inc help <command>` explains one.");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("help", Ok(Command::Help { topic: None }));
        check(
            "help sev",
            Ok(Command::Help {
                topic: Some("sev".into()),
            }),
        );
        check(
            "help severity",
            Ok(Command::Help {
                topic: Some("sev".into()),
            }),
        );
        check(
            "help sevv",
            Err("Unknown command `sevv`. Did you mean `/inc sev`? `/inc help` lists them all."),
        );
    }

    #[test]
    fn text_is_generated_from_specs() {
        let overview = text(None);
        for s in specs() {
            assert!(
                overview.contains(&format!("/inc {}", s.usage)),
                "{}",
                s.name
            );
        }
        assert_eq!(
            text(Some("sev")),
            "/inc sev <1-4>\nChange the severity.\nAlso: severity\nType it in the incident's channel.\nExample: /inc sev 1"
        );
    }
}
