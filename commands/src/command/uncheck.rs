//! `/inc uncheck <n>`: untick item n of the incident's checklist.
//!
//! ```text
//! uncheck <n>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "uncheck",
    aliases: &["untick"],
    usage: "uncheck <n>",
    summary: "Untick checklist item n.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "item",
        kind: ArgKind::Count,
        required: true,
        help: "The item's number",
    }],
    example: "/inc uncheck 4",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let item = super::check::item(words, &SPEC)?;
    Ok(Command::Uncheck { item })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("uncheck 3", Ok(Command::Uncheck { item: 3 }));
        check("uncheck", Err("Which item? Usage: `/inc uncheck <n>`."));
    }
}
