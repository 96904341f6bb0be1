//! `/inc confirm <code>`: confirm a runbook action that asked for it, before its code expires.
//!
//! ```text
//! confirm <code>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "confirm",
    aliases: &["yes"],
    usage: "confirm <code>",
    summary: "Confirm a runbook action with the code it gave.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "code",
        kind: ArgKind::Word,
        required: true,
        help: "The confirmation code",
    }],
    example: "/inc confirm K7Q2MX",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let code = words
        .next()
        .ok_or_else(|| usage(&SPEC, "Which code?"))?
        .to_ascii_uppercase();
    words.finish(&SPEC)?;
    Ok(Command::Confirm { code })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check(
            "confirm k7q2mx",
            Ok(Command::Confirm {
                code: "K7Q2MX".into(),
            }),
        );
        check("confirm", Err("Which code? Usage: `/inc confirm <code>`."));
    }
}
