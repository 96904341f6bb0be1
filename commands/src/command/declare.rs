//! `/inc declare [severity] <title>`: open an incident. Works anywhere.
//!
//! ```text
//! declare <title>                 severity from config (SEV3 unless set)
//! declare <severity> <title>      severity: 1-4, sev1, SEV-1, s1
//! ```
//! A first word that names a severity is the severity; everything after it is the title.

use super::{Arg, ArgKind, Command, Scope, Spec, Words};
use crate::{PlatformKind, Severity, Title, UserError};

pub const SPEC: Spec = Spec {
    name: "declare",
    aliases: &["new", "open"],
    usage: "declare [sev1|sev2|sev3|sev4] <title>",
    summary: "Open an incident: a channel, an announcement and a timeline.",
    scope: Scope::Anywhere,
    args: &[
        Arg {
            name: "severity",
            kind: ArgKind::Severity,
            required: false,
            help: "How bad: SEV1 (worst) to SEV4",
        },
        Arg {
            name: "title",
            kind: ArgKind::Text,
            required: true,
            help: "What is broken, in a few words",
        },
    ],
    example: "/inc declare sev2 Checkout API returning 500s",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let severity = words.peek().and_then(Severity::from_word);
    if severity.is_some() {
        words.next();
    }
    let title = Title::parse(words.rest())?;
    Ok(Command::Declare { severity, title })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    fn declare(severity: Option<Severity>, title: &str) -> Result<Command, &'static str> {
        Ok(Command::Declare {
            severity,
            title: Title::parse(title).expect("valid title"),
        })
    }

    #[test]
    fn grammar() {
        use Severity::*;
        check(
            "declare sev1 checkout errors",
            declare(Some(Sev1), "checkout errors"),
        );
        check("declare SEV-2 checkout", declare(Some(Sev2), "checkout"));
        check("declare s3 checkout", declare(Some(Sev3), "checkout"));
        check("declare 4 checkout", declare(Some(Sev4), "checkout"));
        check("declare checkout errors", declare(None, "checkout errors"));
        check("new sev1 db down", declare(Some(Sev1), "db down"));
        check(
            "declare   sev1   spaced    out  ",
            declare(Some(Sev1), "spaced    out"),
        );
        // Only the first word can be the severity.
        check("declare db sev1", declare(None, "db sev1"));
        check(
            "declare @everyone <!channel> **x**",
            declare(None, "@everyone <!channel> **x**"),
        );
    }

    #[test]
    fn errors() {
        let no_title =
            "An incident needs a title, e.g. `/inc declare sev2 Checkout API returning 500s`.";
        check("declare", Err(no_title));
        check("declare sev1", Err(no_title));
        check("declare sev1   ", Err(no_title));
        check(
            &format!("declare sev1 {}", "x".repeat(5_000)),
            Err("That title is 5000 characters; the limit is 200. Shorten it."),
        );
        check(
            "declare sev1 bell\u{7}",
            Err("That text contains control characters. Retype it without them."),
        );
    }
}
