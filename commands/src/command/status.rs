//! `/inc status <state>`: move the incident to triage, contained, recovering or resolved.
//!
//! ```text
//! status <triage|contained|recovering|resolved>
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, Status, UserError};

pub const SPEC: Spec = Spec {
    name: "status",
    aliases: &["state"],
    usage: "status <triage|contained|recovering|resolved>",
    summary: "Say where the incident stands.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "status",
        kind: ArgKind::Status,
        required: true,
        help: "triage, contained, recovering or resolved",
    }],
    example: "/inc status contained",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let word = words.next().ok_or_else(|| usage(&SPEC, "Which status?"))?;
    let status = Status::parse(word)?;
    words.finish(&SPEC)?;
    Ok(Command::Status { status })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        let st = |status| Ok(Command::Status { status });
        check("status triage", st(Status::Triage));
        check("status Contained", st(Status::Contained));
        check("state recovering", st(Status::Recovering));
        check("status resolved", st(Status::Resolved));
        check(
            "status",
            Err("Which status? Usage: `/inc status <triage|contained|recovering|resolved>`."),
        );
        check(
            "status fixed",
            Err("`fixed` is not a status. Use one of: triage, contained, recovering, resolved."),
        );
    }
}
