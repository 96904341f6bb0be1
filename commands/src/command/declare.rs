//! `/inc declare [--private] [--oncall schedule] [severity] <title>`: open an incident. Works
//! anywhere.
//!
//! ```text
//! declare <title>                 severity from config (SEV3 unless set)
//! declare <severity> <title>      severity: 1-4, sev1, SEV-1, s1
//! declare --private sev1 <title>  a private channel and a redacted announcement
//! declare private sev1 <title>    the same: `private` as the very first word is the flag
//! declare sev1 --private <title>  `--private` may also follow the severity
//! declare sev2 --oncall payments <title>            invite and ping payments' on-call person
//! declare --oncall payments/secondary sev2 <title>  …of that layer (default: the first)
//! ```
//! A first word that names a severity is the severity; everything after it is the title.
//! `--private` and `--oncall <schedule>` (or `--oncall=<schedule>`) may come before or after the
//! severity; the bare word `private` is the flag only as the first word, so
//! `/inc declare sev3 private beta down` is titled "private beta down".

use super::{Arg, ArgKind, Command, ScheduleRef, Scope, Spec, Words};
use crate::{PlatformKind, Severity, Title, UserError};

pub const SPEC: Spec = Spec {
    name: "declare",
    aliases: &["new", "open"],
    usage: "declare [--private] [--oncall schedule] [sev1|sev2|sev3|sev4] <title>",
    summary: "Open an incident: a channel, an announcement and a timeline.",
    scope: Scope::Anywhere,
    args: &[
        Arg {
            name: "private",
            kind: ArgKind::Flag,
            required: false,
            help: "A private channel; the paging channel sees no title",
        },
        Arg {
            name: "severity",
            kind: ArgKind::Severity,
            required: false,
            help: "How bad: SEV1 (worst) to SEV4",
        },
        Arg {
            name: "oncall",
            kind: ArgKind::Named,
            required: false,
            help: "A schedule (payments, payments/secondary): its on-call person is invited and pinged",
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
    let mut severity = None;
    let mut private = false;
    let mut oncall = None;
    let mut first = true;
    while let Some(word) = words.peek() {
        let flag = word.eq_ignore_ascii_case("--private")
            || (first && word.eq_ignore_ascii_case("private"));
        let lower = word.to_ascii_lowercase();
        if flag {
            private = true;
        } else if lower == "--oncall" || lower.starts_with("--oncall=") {
            let inline = word.get("--oncall=".len()..).filter(|_| lower.len() > 8);
            words.next();
            let named = match inline {
                Some(v) => v,
                None => words.next().ok_or_else(|| {
                    UserError::new(
                        "`--oncall` needs a schedule, e.g. `/inc declare sev2 --oncall payments checkout slow`.",
                    )
                })?,
            };
            oncall = Some(ScheduleRef::parse(named)?);
            first = false;
            continue;
        } else if let (None, Some(s)) = (severity, Severity::from_word(word)) {
            severity = Some(s);
        } else if word.starts_with("--") {
            return Err(UserError::new(format!(
                "`{}` is not an option of declare; the options are `--private` and `--oncall <schedule>`. Usage: `/inc {}`.",
                crate::values::shorten(word, 20),
                SPEC.usage
            )));
        } else {
            break;
        }
        words.next();
        first = false;
    }
    let title = Title::parse(words.rest())?;
    Ok(Command::Declare {
        severity,
        title,
        private,
        oncall,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    fn declare(severity: Option<Severity>, title: &str) -> Result<Command, &'static str> {
        Ok(Command::Declare {
            severity,
            title: Title::parse(title).expect("valid title"),
            private: false,
            oncall: None,
        })
    }

    fn private(severity: Option<Severity>, title: &str) -> Result<Command, &'static str> {
        Ok(Command::Declare {
            severity,
            title: Title::parse(title).expect("valid title"),
            private: true,
            oncall: None,
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
    fn private_flag() {
        use Severity::*;
        check(
            "declare --private sev1 key leaked",
            private(Some(Sev1), "key leaked"),
        );
        check(
            "declare private sev1 key leaked",
            private(Some(Sev1), "key leaked"),
        );
        check("declare PRIVATE key leaked", private(None, "key leaked"));
        check(
            "declare sev1 --private key leaked",
            private(Some(Sev1), "key leaked"),
        );
        check(
            "declare --PRIVATE 2 regions down",
            private(Some(Sev2), "regions down"),
        );
        check("new --private x", private(None, "x"));
        // The bare word is the flag only as the first word.
        check(
            "declare sev3 private beta down",
            declare(Some(Sev3), "private beta down"),
        );
        // A second bare `private` or a second severity is title text; `--private` twice is once.
        check(
            "declare private private beta",
            private(None, "private beta"),
        );
        check("declare --private --private x", private(None, "x"));
        check(
            "declare --private sev1 sev2 db",
            private(Some(Sev1), "sev2 db"),
        );
        check(
            "declare sev1 x --private",
            declare(Some(Sev1), "x --private"),
        );
    }

    #[test]
    fn oncall_option() {
        let with = |severity, title: &str, schedule: &str, private| {
            Ok(Command::Declare {
                severity,
                title: Title::parse(title).expect("valid title"),
                private,
                oncall: Some(ScheduleRef::parse(schedule).expect("schedule")),
            })
        };
        use Severity::*;
        check(
            "declare sev2 --oncall payments checkout slow",
            with(Some(Sev2), "checkout slow", "payments", false),
        );
        check(
            "declare --oncall payments/secondary sev2 checkout slow",
            with(Some(Sev2), "checkout slow", "payments/secondary", false),
        );
        check(
            "declare --private --ONCALL=Payments db down",
            with(None, "db down", "payments", true),
        );
        // After the title starts, it is title text.
        check(
            "declare sev2 checkout --oncall payments",
            declare(Some(Sev2), "checkout --oncall payments"),
        );
        check(
            "declare sev2 --oncall",
            Err(
                "`--oncall` needs a schedule, e.g. `/inc declare sev2 --oncall payments checkout slow`.",
            ),
        );
        check(
            "declare sev2 --oncall pay!ments x",
            Err("`pay!ments` is not a schedule. Write it like `payments` or `payments/secondary`."),
        );
        check(
            "declare sev2 --oncall payments",
            Err("An incident needs a title, e.g. `/inc declare sev2 Checkout API returning 500s`."),
        );
    }

    #[test]
    fn errors() {
        let no_title =
            "An incident needs a title, e.g. `/inc declare sev2 Checkout API returning 500s`.";
        check("declare", Err(no_title));
        check("declare sev1", Err(no_title));
        check("declare sev1   ", Err(no_title));
        check("declare --private", Err(no_title));
        check("declare private sev1", Err(no_title));
        check("declare --private sev2 ", Err(no_title));
        check(
            "declare --privte sev1 x",
            Err(
                "`--privte` is not an option of declare; the options are `--private` and `--oncall <schedule>`. Usage: `/inc declare [--private] [--oncall schedule] [sev1|sev2|sev3|sev4] <title>`.",
            ),
        );
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
