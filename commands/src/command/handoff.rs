//! `/inc handoff [@to]`: post the on-call handoff, filled from the record; with `@to`, the
//! incident commander role moves to them.
//!
//! ```text
//! handoff
//! handoff <@user>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "handoff",
    aliases: &["handover"],
    usage: "handoff [@to]",
    summary: "Post the on-call handoff from the record; with @to, they become IC.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "to",
        kind: ArgKind::User,
        required: false,
        help: "Who takes over as incident commander",
    }],
    example: "/inc handoff @bob",
    parse,
};

fn parse(words: &mut Words<'_>, platform: PlatformKind) -> Result<Command, UserError> {
    let to = match words.next() {
        None => None,
        Some(w) => Some(platform.parse_mention(w)?),
    };
    words.finish(&SPEC)?;
    Ok(Command::Handoff { to })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;
    use crate::UserRef;

    #[test]
    fn grammar() {
        check("handoff", Ok(Command::Handoff { to: None }));
        check(
            "handoff @bob",
            Ok(Command::Handoff {
                to: Some(UserRef::named("bob", "bob")),
            }),
        );
        check(
            "handoff bob",
            Err("`bob` is not a mention. Name a person as @alice."),
        );
        check(
            "handoff @bob @carol",
            Err("Too much after `handoff`. Usage: `/inc handoff [@to]`."),
        );
    }
}
