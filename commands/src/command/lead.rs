//! `/inc lead <@user>`: make someone the incident commander (shorthand for `role ic`).
//!
//! ```text
//! lead <@user>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, Role, UserError};

pub const SPEC: Spec = Spec {
    name: "lead",
    aliases: &["ic"],
    usage: "lead <@user>",
    summary: "Make someone incident commander (same as `role ic`).",
    scope: Scope::Incident,
    args: &[Arg {
        name: "user",
        kind: ArgKind::User,
        required: true,
        help: "The new incident commander",
    }],
    example: "/inc lead @alice",
    parse,
};

fn parse(words: &mut Words<'_>, platform: PlatformKind) -> Result<Command, UserError> {
    let who = words.next().ok_or_else(|| usage(&SPEC, "Who leads?"))?;
    let user = platform.parse_mention(who)?;
    words.finish(&SPEC)?;
    Ok(Command::Role {
        role: Role::Ic,
        user,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;
    use crate::UserRef;

    #[test]
    fn grammar() {
        check(
            "lead @alice",
            Ok(Command::Role {
                role: Role::Ic,
                user: UserRef::named("alice", "alice"),
            }),
        );
        check("lead", Err("Who leads? Usage: `/inc lead <@user>`."));
        check(
            "lead everyone",
            Err("`everyone` is not a mention. Name a person as @alice."),
        );
    }
}
