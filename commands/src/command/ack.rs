//! `/inc ack`: acknowledge the page. In an incident channel.
//!
//! ```text
//! ack
//! ```

use super::{Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "ack",
    aliases: &["acknowledge"],
    usage: "ack",
    summary: "Acknowledge the page: you are on it.",
    scope: Scope::Incident,
    args: &[],
    example: "/inc ack",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    words.finish(&SPEC)?;
    Ok(Command::Ack)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("ack", Ok(Command::Ack));
        check("acknowledge", Ok(Command::Ack));
        check("ack now", Err("Too much after `ack`. Usage: `/inc ack`."));
    }
}
