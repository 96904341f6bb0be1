//! `/inc role <role> <@user>`: give someone a responder role.
//!
//! ```text
//! role <ic|comms|scribe|ops> <@user>
//! ```
//! Mentions as the platform writes them: Slack `<@U123>`, Discord `<@123>`, console `@name`.

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, Role, UserError};

pub const SPEC: Spec = Spec {
    name: "role",
    aliases: &["assign"],
    usage: "role <ic|comms|scribe|ops> <@user>",
    summary: "Give someone a role: incident commander, comms, scribe or ops.",
    scope: Scope::Incident,
    args: &[
        Arg {
            name: "role",
            kind: ArgKind::Role,
            required: true,
            help: "ic, comms, scribe or ops",
        },
        Arg {
            name: "user",
            kind: ArgKind::User,
            required: true,
            help: "Who takes the role",
        },
    ],
    example: "/inc role comms @bob",
    parse,
};

fn parse(words: &mut Words<'_>, platform: PlatformKind) -> Result<Command, UserError> {
    let role = words.next().ok_or_else(|| usage(&SPEC, "Which role?"))?;
    let role = Role::parse(role)?;
    let who = words.next().ok_or_else(|| usage(&SPEC, "Who?"))?;
    let user = platform.parse_mention(who)?;
    words.finish(&SPEC)?;
    Ok(Command::Role { role, user })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check, check_on};
    use super::*;
    use crate::UserRef;

    #[test]
    fn grammar() {
        check(
            "role ic @alice",
            Ok(Command::Role {
                role: Role::Ic,
                user: UserRef::named("alice", "alice"),
            }),
        );
        check_on(
            PlatformKind::Slack,
            "role comms <@U42|bob>",
            Ok(Command::Role {
                role: Role::Comms,
                user: UserRef::named("U42", "bob"),
            }),
        );
        check_on(
            PlatformKind::Discord,
            "assign scribe <@!81>",
            Ok(Command::Role {
                role: Role::Scribe,
                user: UserRef::id("81"),
            }),
        );
    }

    #[test]
    fn errors() {
        check(
            "role",
            Err("Which role? Usage: `/inc role <ic|comms|scribe|ops> <@user>`."),
        );
        check(
            "role ic",
            Err("Who? Usage: `/inc role <ic|comms|scribe|ops> <@user>`."),
        );
        check(
            "role boss @alice",
            Err("`boss` is not a role. Use one of: ic, comms, scribe, ops."),
        );
        check(
            "role ic alice",
            Err("`alice` is not a mention. Name a person as @alice."),
        );
        check_on(
            PlatformKind::Slack,
            "role ic <!channel>",
            Err(
                "`<!channel>` is not a mention. Name a person as @someone (pick them from the list).",
            ),
        );
        check(
            "role ic @alice @bob",
            Err("Too much after `role`. Usage: `/inc role <ic|comms|scribe|ops> <@user>`."),
        );
    }
}
