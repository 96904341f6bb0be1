//! `/inc summary`: the incident's current state: title, severity, status, roles, age, last update.
//!
//! ```text
//! summary
//! ```

use super::{Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "summary",
    aliases: &["info", "show"],
    usage: "summary",
    summary: "Show severity, status, roles, age and the last update.",
    scope: Scope::Incident,
    args: &[],
    example: "/inc summary",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    words.finish(&SPEC)?;
    Ok(Command::Summary)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("summary", Ok(Command::Summary));
        check("info", Ok(Command::Summary));
        check(
            "summary please",
            Err("Too much after `summary`. Usage: `/inc summary`."),
        );
    }
}
