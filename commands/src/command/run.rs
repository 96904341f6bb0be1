//! `/inc run <action> [name=value ...] [--dry-run]`: run a runbook action, behind its
//! guardrails (permission, severity, allow-listed host, secrets, preconditions, confirmation).
//!
//! ```text
//! run <action> [name=value ...]              values with spaces in double quotes:
//! run <action> [name=value ...] --dry-run    reason="model loops in agent 42"
//! ```
//! `--dry-run` shows exactly the request that would be sent, secrets masked, and sends nothing.

use super::{Arg, ArgKind, Command, Scope, Spec, Words, usage};
use crate::{PlatformKind, UserError};

pub const SPEC: Spec = Spec {
    name: "run",
    aliases: &["exec"],
    usage: "run <action> [name=value ...] [--dry-run]",
    summary: "Run a runbook action, behind its guardrails; --dry-run only shows the request.",
    scope: Scope::Incident,
    args: &[
        Arg {
            name: "action",
            kind: ArgKind::Word,
            required: true,
            help: "The action's name",
        },
        Arg {
            name: "params",
            kind: ArgKind::Text,
            required: false,
            help: "name=value pairs; quote values with spaces",
        },
    ],
    example: "/inc run kill-switch-halt reason=\"agent 42 loops\" --dry-run",
    parse,
};

/// Longest parameter value accepted, in characters.
const MAX_VALUE: usize = 500;

fn parse(words: &mut Words<'_>, _: PlatformKind) -> Result<Command, UserError> {
    let action = words
        .next()
        .ok_or_else(|| {
            usage(
                &SPEC,
                "Which action? `/inc runbook show <id>` lists a runbook's actions.",
            )
        })?
        .to_ascii_lowercase();
    let (params, dry_run) = params(words.rest())?;
    Ok(Command::Run {
        action,
        params,
        dry_run,
    })
}

/// `name=value` pairs, values optionally in double quotes (with `\"` and `\\`), plus the
/// `--dry-run` flag anywhere.
fn params(text: &str) -> Result<(Vec<(String, String)>, bool), UserError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut dry_run = false;
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut token = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '=' {
                break;
            }
            token.push(c);
            chars.next();
        }
        if token == "--dry-run" || token == "--dryrun" {
            dry_run = true;
            continue;
        }
        if chars.next() != Some('=') {
            return Err(UserError::new(format!(
                "`{}` is not name=value. Quote values with spaces: reason=\"two words\".",
                crate::values::shorten(&token, 30)
            )));
        }
        let name = token.to_ascii_lowercase();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(UserError::new(format!(
                "`{}` is not a parameter name (letters, digits, _ and -).",
                crate::values::shorten(&name, 30)
            )));
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(UserError::new(format!(
                    "The value of `{name}` has no closing quote."
                )));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        if value.chars().any(char::is_control) {
            return Err(UserError::new(
                "That text contains control characters. Retype it without them.",
            ));
        }
        if value.chars().count() > MAX_VALUE {
            return Err(UserError::new(format!(
                "The value of `{name}` is over {MAX_VALUE} characters."
            )));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(UserError::new(format!("`{name}` is given twice.")));
        }
        out.push((name, value));
    }
    Ok((out, dry_run))
}

#[cfg(test)]
mod tests {
    use super::super::testing::check;
    use super::*;

    fn run(action: &str, params: &[(&str, &str)], dry_run: bool) -> Result<Command, &'static str> {
        Ok(Command::Run {
            action: action.into(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            dry_run,
        })
    }

    #[test]
    fn grammar() {
        check("run halt", run("halt", &[], false));
        check(
            r#"run Halt reason="agent 42 loops" tenant=acme --dry-run"#,
            run(
                "halt",
                &[("reason", "agent 42 loops"), ("tenant", "acme")],
                true,
            ),
        );
        check(
            r#"run x a="say \"hi\"""#,
            run("x", &[("a", "say \"hi\"")], false),
        );
        check("run x --dry-run a=", run("x", &[("a", "")], true));
    }

    #[test]
    fn errors() {
        check(
            "run",
            Err(
                "Which action? `/inc runbook show <id>` lists a runbook's actions. Usage: `/inc run <action> [name=value ...] [--dry-run]`.",
            ),
        );
        check(
            "run x reason",
            Err("`reason` is not name=value. Quote values with spaces: reason=\"two words\"."),
        );
        check(
            r#"run x a="open"#,
            Err("The value of `a` has no closing quote."),
        );
        check("run x a=1 a=2", Err("`a` is given twice."));
        check(
            "run x =1",
            Err("`` is not a parameter name (letters, digits, _ and -)."),
        );
    }
}
