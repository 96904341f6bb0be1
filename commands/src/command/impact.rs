//! `/inc impact <text>`: record the impact: who was affected, how, for how long.
//!
//! ```text
//! impact <text>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, Text, UserError};

pub const SPEC: Spec = Spec {
    name: "impact",
    aliases: &["affected"],
    usage: "impact <text>",
    summary: "Record the impact: who was affected, how, for how long.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "text",
        kind: ArgKind::Text,
        required: true,
        help: "Record the impact: who was affected, how, for how long.",
    }],
    example: "/inc impact 30% of checkout requests failed for 40 minutes",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let text = Text::parse(words.rest(), "the impact", SPEC.example)?;
    Ok(Command::Impact { text })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check(
            "impact it broke",
            Ok(Command::Impact {
                text: Text::parse("it broke", "", "").expect("valid"),
            }),
        );
        check(
            "impact",
            Err(
                "Say what the impact is, e.g. `/inc impact 30% of checkout requests failed for 40 minutes`.",
            ),
        );
    }
}
