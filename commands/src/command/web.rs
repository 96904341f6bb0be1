//! `/inc web`: a sign-in link to Klaxon's pages, for the person who asks only. Works anywhere;
//! asked in a private incident's channel, the link also opens that incident's pages.
//!
//! ```text
//! web
//! ```

use super::{Command, Scope, Spec, Words};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "web",
    aliases: &["pages", "signin"],
    usage: "web",
    summary: "Get a link, for you only, that signs you in to the incident pages.",
    scope: Scope::Anywhere,
    args: &[],
    example: "/inc web",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    words.finish(&SPEC)?;
    Ok(Command::Web)
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        check("web", Ok(Command::Web));
        check("pages", Ok(Command::Web));
        check("WEB", Ok(Command::Web));
        check("web now", Err("Too much after `web`. Usage: `/inc web`."));
    }
}
