//! `/inc note <text>`: add an entry to the incident's timeline.
//!
//! ```text
//! note <text>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, Text, UserError};

pub const SPEC: Spec = Spec {
    name: "note",
    aliases: &["log"],
    usage: "note <text>",
    summary: "Add an entry to the timeline.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "text",
        kind: ArgKind::Text,
        required: true,
        help: "What happened or was decided",
    }],
    example: "/inc note Support confirms recovery",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let text = Text::parse(words.rest(), "the note", SPEC.example)?;
    Ok(Command::Note { text })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check(
            "note Support confirms recovery",
            Ok(Command::Note {
                text: Text::parse("Support confirms recovery", "", "").expect("valid"),
            }),
        );
        check(
            "note",
            Err("Say what the note is, e.g. `/inc note Support confirms recovery`."),
        );
        check(
            "note \u{1b}[31mred",
            Err("That text contains control characters. Retype it without them."),
        );
    }
}
