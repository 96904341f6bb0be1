//! `/inc resolve [summary]`: close the incident, optionally saying what fixed it.
//!
//! ```text
//! resolve [summary]
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, Text, UserError};

pub const SPEC: Spec = Spec {
    name: "resolve",
    aliases: &["close", "resolved"],
    usage: "resolve [summary]",
    summary: "Resolve the incident; stops its reminders.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "summary",
        kind: ArgKind::Text,
        required: false,
        help: "What fixed it",
    }],
    example: "/inc resolve Rollback fixed it",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let rest = words.rest();
    let summary = if rest.is_empty() {
        None
    } else {
        Some(Text::parse(rest, "the summary", SPEC.example)?)
    };
    Ok(Command::Resolve { summary })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("resolve", Ok(Command::Resolve { summary: None }));
        check(
            "resolve Rollback fixed it",
            Ok(Command::Resolve {
                summary: Some(Text::parse("Rollback fixed it", "", "").expect("valid")),
            }),
        );
        check(
            "close \u{0}",
            Err("That text contains control characters. Retype it without them."),
        );
    }
}
