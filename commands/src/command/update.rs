//! `/inc update <text>`: a status update for stakeholders, posted in the incident channel.
//!
//! ```text
//! update <text>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, Text, UserError};

pub const SPEC: Spec = Spec {
    name: "update",
    aliases: &[],
    usage: "update <text>",
    summary: "Post a status update for stakeholders; resets the update reminder.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "text",
        kind: ArgKind::Text,
        required: true,
        help: "What changed, what is next",
    }],
    example: "/inc update Rolled back deploy 1234; error rate falling",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let text = Text::parse(words.rest(), "the update", SPEC.example)?;
    Ok(Command::Update { text })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check(
            "update Rolled back; errors falling",
            Ok(Command::Update {
                text: Text::parse("Rolled back; errors falling", "", "").expect("valid"),
            }),
        );
        check(
            "update",
            Err(
                "Say what the update is, e.g. `/inc update Rolled back deploy 1234; error rate falling`.",
            ),
        );
        check(
            &format!("update {}", "y".repeat(2_000)),
            Err("That text is 2000 characters; the limit is 1800. Shorten it or split it."),
        );
    }
}
