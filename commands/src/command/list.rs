//! `/inc list`: the open incidents of this workspace. Works anywhere.
//!
//! ```text
//! list
//! ```

use super::{Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "list",
    aliases: &["ls", "open-incidents"],
    usage: "list",
    summary: "List open incidents.",
    scope: Scope::Anywhere,
    args: &[],
    example: "/inc list",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    words.finish(&SPEC)?;
    Ok(Command::List)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("list", Ok(Command::List));
        check("ls", Ok(Command::List));
        check(
            "list all",
            Err("Too much after `list`. Usage: `/inc list`."),
        );
    }
}
