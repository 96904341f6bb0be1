//! `/inc escalate`: page the next escalation tier now ("if unsure, escalate one level higher").
//!
//! ```text
//! escalate
//! ```

use super::{Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "escalate",
    aliases: &["page"],
    usage: "escalate",
    summary: "Page the next escalation tier now.",
    scope: Scope::Incident,
    args: &[],
    example: "/inc escalate",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    words.finish(&SPEC)?;
    Ok(Command::Escalate)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("escalate", Ok(Command::Escalate));
        check("page", Ok(Command::Escalate));
        check(
            "escalate @bob",
            Err("Too much after `escalate`. Usage: `/inc escalate`."),
        );
    }
}
