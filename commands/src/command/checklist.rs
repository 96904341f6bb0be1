//! `/inc checklist`: the incident's checklist with what is ticked and what is due.
//!
//! ```text
//! checklist
//! ```

use super::{Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "checklist",
    aliases: &["todo"],
    usage: "checklist",
    summary: "Show the checklist and what is still open.",
    scope: Scope::Incident,
    args: &[],
    example: "/inc checklist",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    words.finish(&SPEC)?;
    Ok(Command::Checklist)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("checklist", Ok(Command::Checklist));
        check("todo", Ok(Command::Checklist));
        check(
            "checklist all",
            Err("Too much after `checklist`. Usage: `/inc checklist`."),
        );
    }
}
