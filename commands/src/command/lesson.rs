//! `/inc lesson <text>`: record a lesson for future on-call rotations.
//!
//! ```text
//! lesson <text>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, Text, UserError};

pub const SPEC: Spec = Spec {
    name: "lesson",
    aliases: &["learned"],
    usage: "lesson <text>",
    summary: "Record a lesson for future on-call rotations.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "text",
        kind: ArgKind::Text,
        required: true,
        help: "Record a lesson for future on-call rotations.",
    }],
    example: "/inc lesson Roll back first, investigate second",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let text = Text::parse(words.rest(), "the lesson", SPEC.example)?;
    Ok(Command::Lesson { text })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check(
            "lesson it broke",
            Ok(Command::Lesson {
                text: Text::parse("it broke", "", "").expect("valid"),
            }),
        );
        check(
            "lesson",
            Err("Say what the lesson is, e.g. `/inc lesson Roll back first, investigate second`."),
        );
    }
}
