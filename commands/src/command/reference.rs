//! `/inc ref <id>` (this file is `reference.rs` because `ref` is a Rust keyword): record a correlation id (request id, trace id, ticket) for the handoff and
//! the postmortem.
//!
//! ```text
//! ref <id>        one word, up to 100 characters
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "ref",
    aliases: &["correlation"],
    usage: "ref <id>",
    summary: "Record a correlation id (request id, trace id, ticket).",
    scope: Scope::Incident,
    args: &[Arg {
        name: "id",
        kind: ArgKind::Word,
        required: true,
        help: "The id, one word",
    }],
    example: "/inc ref req-7f3a9c",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let id = words.next().ok_or_else(|| usage(&SPEC, "Which id?"))?;
    if id.chars().count() > 100
        || id
            .chars()
            .any(|c| c.is_control() || crate::values::hides_or_reorders(c))
    {
        return Err(UserError::new("An id is one word of up to 100 characters."));
    }
    words.finish(&SPEC)?;
    Ok(Command::Ref { id: id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check(
            "ref req-7f3a9c",
            Ok(Command::Ref {
                id: "req-7f3a9c".into(),
            }),
        );
        check("ref", Err("Which id? Usage: `/inc ref <id>`."));
        check(
            "ref a b",
            Err("Too much after `ref`. Usage: `/inc ref <id>`."),
        );
        check(
            &format!("ref {}", "x".repeat(101)),
            Err("An id is one word of up to 100 characters."),
        );
    }
}
