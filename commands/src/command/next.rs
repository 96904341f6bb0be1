//! `/inc next [answer]`: walk the started runbook's decision tree.
//!
//! ```text
//! next              the current question (or the recommendation at a leaf)
//! next <answer>     yes, no, or one of the question's choices
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "next",
    aliases: &["decide"],
    usage: "next [yes|no|<choice>]",
    summary: "Walk the runbook's decision tree: the current question, or answer it.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "answer",
        kind: ArgKind::Word,
        required: false,
        help: "yes, no or a choice",
    }],
    example: "/inc next yes",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let answer = words.next().map(str::to_ascii_lowercase);
    words.finish(&SPEC)?;
    Ok(Command::Next { answer })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("next", Ok(Command::Next { answer: None }));
        check(
            "next YES",
            Ok(Command::Next {
                answer: Some("yes".into()),
            }),
        );
        check(
            "next a b",
            Err("Too much after `next`. Usage: `/inc next [yes|no|<choice>]`."),
        );
    }
}
