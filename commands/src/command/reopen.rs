//! `/inc reopen`: reopen a resolved incident, back in triage.
//!
//! ```text
//! reopen
//! ```

use super::{Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "reopen",
    aliases: &[],
    usage: "reopen",
    summary: "Reopen a resolved incident (back to triage).",
    scope: Scope::Incident,
    args: &[],
    example: "/inc reopen",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    words.finish(&SPEC)?;
    Ok(Command::Reopen)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("reopen", Ok(Command::Reopen));
        check(
            "reopen it",
            Err("Too much after `reopen`. Usage: `/inc reopen`."),
        );
    }
}
