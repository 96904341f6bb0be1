//! `/inc check <n>`: tick item n of the incident's checklist.
//!
//! ```text
//! check <n>       n: the item's number, 1-99
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "check",
    aliases: &["tick", "done"],
    usage: "check <n>",
    summary: "Tick checklist item n.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "item",
        kind: ArgKind::Count,
        required: true,
        help: "The item's number",
    }],
    example: "/inc check 4",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let item = item(words, &SPEC)?;
    Ok(Command::Check { item })
}

/// The item number shared by `check` and `uncheck`.
pub(super) fn item(words: &mut Words<'_>, spec: &Spec) -> Result<u32, UserError> {
    let word = words.next().ok_or_else(|| usage(spec, "Which item?"))?;
    let n = word
        .trim_start_matches('#')
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=99).contains(n))
        .ok_or_else(|| {
            UserError::new(format!(
                "`{}` is not an item number. `/inc checklist` shows the numbers.",
                crate::values::shorten(word, 20)
            ))
        })?;
    words.finish(spec)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("check 4", Ok(Command::Check { item: 4 }));
        check("tick #2", Ok(Command::Check { item: 2 }));
        check("check", Err("Which item? Usage: `/inc check <n>`."));
        check(
            "check 0",
            Err("`0` is not an item number. `/inc checklist` shows the numbers."),
        );
        check(
            "check four",
            Err("`four` is not an item number. `/inc checklist` shows the numbers."),
        );
        check(
            "check 1 2",
            Err("Too much after `check`. Usage: `/inc check <n>`."),
        );
    }
}
