//! `/inc sev <severity>`: change the incident's severity. Alias `severity`.
//!
//! ```text
//! sev <severity>      severity: 1-4, sev1, SEV-1, s1
//! ```

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, Severity, UserError};

pub const SPEC: Spec = Spec {
    name: "sev",
    aliases: &["severity"],
    usage: "sev <1-4>",
    summary: "Change the severity.",
    scope: Scope::Incident,
    args: &[Arg {
        name: "severity",
        kind: ArgKind::Severity,
        required: true,
        help: "The new severity: SEV1 (worst) to SEV4",
    }],
    example: "/inc sev 1",
    parse,
};

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let word = words
        .next()
        .ok_or_else(|| usage(&SPEC, "Which severity?"))?;
    let severity = Severity::parse(word)?;
    words.finish(&SPEC)?;
    Ok(Command::Sev { severity })
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    #[test]
    fn grammar() {
        let sev = |severity| Ok(Command::Sev { severity });
        check("sev 1", sev(Severity::Sev1));
        check("sev SEV-2", sev(Severity::Sev2));
        check("severity s3", sev(Severity::Sev3));
        check("sev sev4", sev(Severity::Sev4));
        check("sev", Err("Which severity? Usage: `/inc sev <1-4>`."));
        check(
            "sev 9",
            Err("`9` is not a severity. Use 1–4 (e.g. `sev1`, `SEV-2`, `3`)."),
        );
        check(
            "sev high",
            Err("`high` is not a severity. Use 1–4 (e.g. `sev1`, `SEV-2`, `3`)."),
        );
        check(
            "sev 1 2",
            Err("Too much after `sev`. Usage: `/inc sev <1-4>`."),
        );
    }
}
