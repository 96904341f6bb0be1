//! `/inc timeline [N]`: show the last N timeline entries (default 20, at most 200).
//!
//! ```text
//! timeline [N]
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 200;

pub const SPEC: Spec = Spec {
    name: "timeline",
    aliases: &["tl"],
    usage: "timeline [N]",
    summary: "Show the last N timeline entries (default 20).",
    scope: Scope::Incident,
    args: &[Arg {
        name: "count",
        kind: ArgKind::Count,
        required: false,
        help: "How many entries, 1 to 200",
    }],
    example: "/inc timeline 10",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let limit = match words.next() {
        None => DEFAULT_LIMIT,
        Some(word) => word
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                UserError::new(format!(
                    "`{}` is not a count. Give a number from 1 to {MAX_LIMIT}, e.g. `/inc timeline 10`.",
                    crate::values::shorten(word, 20)
                ))
            })?,
    };
    words.finish(&SPEC)?;
    Ok(Command::Timeline { limit })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("timeline", Ok(Command::Timeline { limit: 20 }));
        check("timeline 5", Ok(Command::Timeline { limit: 5 }));
        check("tl 200", Ok(Command::Timeline { limit: 200 }));
        let bad = |w: &str| {
            format!("`{w}` is not a count. Give a number from 1 to 200, e.g. `/inc timeline 10`.")
        };
        check("timeline 0", Err(&bad("0")));
        check("timeline 201", Err(&bad("201")));
        check("timeline -3", Err(&bad("-3")));
        check("timeline all", Err(&bad("all")));
        check(
            "timeline 5 6",
            Err("Too much after `timeline`. Usage: `/inc timeline [N]`."),
        );
    }
}
