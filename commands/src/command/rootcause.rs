//! `/inc rootcause <text>`: record the root cause, for the postmortem.
//!
//! ```text
//! rootcause <text>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, Text, UserError};

pub const SPEC: Spec = Spec {
    name: "rootcause",
    aliases: &["cause"],
    usage: "rootcause <text>",
    summary: "Record the root cause, for the postmortem.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "text",
        kind: ArgKind::Text,
        required: true,
        help: "Record the root cause, for the postmortem.",
    }],
    example: "/inc rootcause Deploy 1234 removed the retry on payment timeouts",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let text = Text::parse(words.rest(), "the root cause", SPEC.example)?;
    Ok(Command::RootCause { text })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check(
            "rootcause it broke",
            Ok(Command::RootCause {
                text: Text::parse("it broke", "", "").expect("valid"),
            }),
        );
        check(
            "rootcause",
            Err(
                "Say what the root cause is, e.g. `/inc rootcause Deploy 1234 removed the retry on payment timeouts`.",
            ),
        );
    }
}
