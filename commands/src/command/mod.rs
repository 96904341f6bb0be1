//! The `/inc` grammar: one closed [`Command`] enum, one file per subcommand, one spec table.
//!
//! Each subcommand's file opens with its grammar, holds its [`Spec`] (which also generates
//! `help` and, later, Discord's typed options) and its parser, tested as data.

use serde::{Deserialize, Serialize};

use crate::{PlatformKind, Role, Severity, Status, Text, Title, UserError, UserRef};

mod ack;
mod check;
mod checklist;
mod confirm;
mod declare;
mod escalate;
mod followup;
mod handoff;
mod help;
mod impact;
mod lead;
mod lesson;
mod list;
mod next;
mod note;
mod oncall;
mod postmortem;
mod reference;
mod remind;
mod reopen;
mod resolve;
mod role;
mod rootcause;
mod run;
mod runbook;
mod sev;
mod status;
mod summary;
mod timeline;
mod uncheck;
mod update;
mod web;

pub use followup::Followup;
pub use oncall::{CoverEnd, Oncall, RESERVED as ONCALL_WORDS, ScheduleRef};
pub use remind::Remind;
pub use runbook::RunbookCmd;

/// Every command Klaxon understands, after parsing and validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    Declare {
        severity: Option<Severity>,
        title: Title,
        /// A private channel, and an announcement that shows no title.
        #[serde(default)]
        private: bool,
        /// A schedule (layer) whose on-call person is invited and pinged at once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oncall: Option<ScheduleRef>,
    },
    Ack,
    Sev {
        severity: Severity,
    },
    Status {
        status: Status,
    },
    Update {
        text: Text,
    },
    Role {
        role: Role,
        user: UserRef,
    },
    Note {
        text: Text,
    },
    Timeline {
        limit: u32,
    },
    Summary,
    Resolve {
        summary: Option<Text>,
    },
    Reopen,
    List,
    Help {
        topic: Option<String>,
    },
    Escalate,
    Check {
        item: u32,
    },
    Uncheck {
        item: u32,
    },
    Checklist,
    Remind {
        remind: Remind,
    },
    Postmortem {
        done: bool,
    },
    Impact {
        text: Text,
    },
    RootCause {
        text: Text,
    },
    Lesson {
        text: Text,
    },
    Followup {
        followup: Followup,
    },
    Handoff {
        to: Option<UserRef>,
    },
    Ref {
        id: String,
    },
    Runbook {
        runbook: RunbookCmd,
    },
    Next {
        answer: Option<String>,
    },
    Run {
        action: String,
        params: Vec<(String, String)>,
        dry_run: bool,
    },
    Confirm {
        code: String,
    },
    Oncall {
        oncall: Oncall,
    },
    Web,
}

impl Command {
    /// The subcommand's name, the same word as its file, its action and its help entry.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Declare { .. } => "declare",
            Self::Ack => "ack",
            Self::Sev { .. } => "sev",
            Self::Status { .. } => "status",
            Self::Update { .. } => "update",
            Self::Role { .. } => "role",
            Self::Note { .. } => "note",
            Self::Timeline { .. } => "timeline",
            Self::Summary => "summary",
            Self::Resolve { .. } => "resolve",
            Self::Reopen => "reopen",
            Self::List => "list",
            Self::Help { .. } => "help",
            Self::Escalate => "escalate",
            Self::Check { .. } => "check",
            Self::Uncheck { .. } => "uncheck",
            Self::Checklist => "checklist",
            Self::Remind { .. } => "remind",
            Self::Postmortem { .. } => "postmortem",
            Self::Impact { .. } => "impact",
            Self::RootCause { .. } => "rootcause",
            Self::Lesson { .. } => "lesson",
            Self::Followup { .. } => "followup",
            Self::Handoff { .. } => "handoff",
            Self::Ref { .. } => "ref",
            Self::Runbook { .. } => "runbook",
            Self::Next { .. } => "next",
            Self::Run { .. } => "run",
            Self::Confirm { .. } => "confirm",
            Self::Oncall { .. } => "oncall",
            Self::Web => "web",
        }
    }

    /// Where the command may be typed. A command whose `Spec` says `Anywhere` may have a
    /// subcommand that needs an incident (`runbook start`); the engine's dispatch looks the
    /// incident up exactly for the commands this calls `Incident` (tests/tests/it/scope.rs).
    pub fn scope(&self) -> Scope {
        match self {
            Self::Declare { .. }
            | Self::List
            | Self::Help { .. }
            | Self::Oncall { .. }
            | Self::Web => Scope::Anywhere,
            // `runbook list` and `show` work anywhere; `runbook start` acts on the incident.
            Self::Runbook {
                runbook: RunbookCmd::Start { .. },
            } => Scope::Incident,
            Self::Runbook { .. } => Scope::Anywhere,
            _ => Scope::Incident,
        }
    }
}

/// Where a command may be typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Anywhere,
    /// Only in an incident's channel: it acts on that incident.
    Incident,
}

/// The type of one argument, for help and for platforms with typed options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Severity,
    Status,
    Role,
    User,
    /// A whole number.
    Count,
    /// A single word.
    Word,
    /// The rest of the line.
    Text,
    /// A yes/no switch, typed `--name` (a boolean option where the platform has them).
    Flag,
    /// A single word typed after `--name` (a text option where the platform has them).
    Named,
}

/// One argument of a subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    pub help: &'static str,
}

/// A subcommand's description: the single source of `help` and of the parser's dispatch.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub usage: &'static str,
    pub summary: &'static str,
    pub scope: Scope,
    pub args: &'static [Arg],
    pub example: &'static str,
    parse: fn(&mut Words<'_>, PlatformKind) -> Result<Command, UserError>,
}

const SPECS: &[Spec] = &[
    declare::SPEC,
    ack::SPEC,
    escalate::SPEC,
    sev::SPEC,
    status::SPEC,
    update::SPEC,
    role::SPEC,
    lead::SPEC,
    note::SPEC,
    timeline::SPEC,
    summary::SPEC,
    checklist::SPEC,
    check::SPEC,
    uncheck::SPEC,
    remind::SPEC,
    handoff::SPEC,
    reference::SPEC,
    resolve::SPEC,
    reopen::SPEC,
    impact::SPEC,
    rootcause::SPEC,
    lesson::SPEC,
    followup::SPEC,
    postmortem::SPEC,
    runbook::SPEC,
    next::SPEC,
    run::SPEC,
    confirm::SPEC,
    list::SPEC,
    oncall::SPEC,
    web::SPEC,
    help::SPEC,
];

/// Every subcommand, in the order `help` lists them.
pub fn specs() -> &'static [Spec] {
    SPECS
}

/// The spec a word names, by name or alias, ignoring case.
pub fn spec(word: &str) -> Option<&'static Spec> {
    let lower = word.to_ascii_lowercase();
    SPECS
        .iter()
        .find(|s| s.name == lower || s.aliases.contains(&lower.as_str()))
}

/// Parses the text after `/inc` (a leading `/inc` is tolerated) as typed on `platform`.
pub fn parse(text: &str, platform: PlatformKind) -> Result<Command, UserError> {
    let text = text.trim();
    let text = match text.strip_prefix("/inc") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
        _ => text,
    };
    let mut words = Words::new(text);
    let Some(name) = words.next() else {
        return Ok(Command::Help { topic: None });
    };
    match spec(name) {
        Some(spec) => (spec.parse)(&mut words, platform),
        None => Err(unknown(name)),
    }
}

fn unknown(name: &str) -> UserError {
    let shown = crate::values::shorten(name, 20);
    match closest(name) {
        Some(best) => UserError::new(format!(
            "Unknown command `{shown}`. Did you mean `/inc {best}`? `/inc help` lists them all."
        )),
        None => UserError::new(format!(
            "Unknown command `{shown}`. `/inc help` lists them all."
        )),
    }
}

/// The known name closest to a mistyped one, if any is close enough to be a plausible typo.
pub fn closest(word: &str) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    SPECS
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
        .map(|name| (strsim::damerau_levenshtein(&lower, name), name))
        .filter(|(d, name)| *d <= 2 && *d < name.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| spec(name).map_or(name, |s| s.name))
}

/// The rest of an input line, taken a word at a time.
pub struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            rest: text.trim_start(),
        }
    }

    /// The next whitespace-separated word.
    #[expect(
        clippy::should_implement_trait,
        reason = "Words is consumed word by word and then as a whole line; an Iterator would hide rest()"
    )]
    pub fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest.trim_start();
        Some(word)
    }

    /// The next word, without consuming it.
    pub fn peek(&self) -> Option<&'a str> {
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        (end > 0).then(|| &self.rest[..end])
    }

    /// Everything left, as typed.
    pub fn rest(&mut self) -> &'a str {
        std::mem::take(&mut self.rest).trim_end()
    }

    /// Refuses anything left over, naming the command's usage.
    pub fn finish(&mut self, spec: &Spec) -> Result<(), UserError> {
        if self.rest.trim().is_empty() {
            Ok(())
        } else {
            Err(UserError::new(format!(
                "Too much after `{}`. Usage: `/inc {}`.",
                spec.name, spec.usage
            )))
        }
    }
}

/// A refusal that shows the usage line of a command.
fn usage(spec: &Spec, what: &str) -> UserError {
    UserError::new(format!("{what} Usage: `/inc {}`.", spec.usage))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Parses `input` as typed in the console and compares with the expected command or the
    /// exact error text.
    #[track_caller]
    pub fn check(input: &str, expected: Result<Command, &str>) {
        check_on(PlatformKind::Console, input, expected);
    }

    #[track_caller]
    pub fn check_on(platform: PlatformKind, input: &str, expected: Result<Command, &str>) {
        let got = parse(input, platform);
        let got = got.as_ref().map_err(UserError::text);
        assert_eq!(got, expected.as_ref().map_err(|e| *e), "input: {input:?}");
    }
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::testing::check;
    use super::*;

    #[test]
    fn empty_is_help() {
        check("", Ok(Command::Help { topic: None }));
        check("/inc", Ok(Command::Help { topic: None }));
        check("  /inc   ", Ok(Command::Help { topic: None }));
    }

    #[test]
    fn leading_slash_inc_is_tolerated() {
        check("/inc ack", Ok(Command::Ack));
        check("ACK", Ok(Command::Ack));
    }

    #[test]
    fn unknown_suggests_closest() {
        check(
            "decalre sev1 x",
            Err(
                "Unknown command `decalre`. Did you mean `/inc declare`? `/inc help` lists them all.",
            ),
        );
        check(
            "severty 1",
            Err("Unknown command `severty`. Did you mean `/inc sev`? `/inc help` lists them all."),
        );
        check(
            "/incx",
            Err("Unknown command `/incx`. `/inc help` lists them all."),
        );
        check(
            "frobnicate",
            Err("Unknown command `frobnicate`. `/inc help` lists them all."),
        );
    }

    #[test]
    fn every_spec_is_reachable_and_named_like_its_command() {
        let mut seen = std::collections::HashSet::new();
        for s in specs() {
            assert!(seen.insert(s.name), "duplicate {}", s.name);
            for a in s.aliases {
                assert!(seen.insert(a), "duplicate alias {a}");
            }
            assert!(s.usage.starts_with(s.name), "{}", s.usage);
            assert!(s.example.starts_with("/inc "), "{}", s.example);
            // The example in the help must itself parse (with a console mention).
            let parsed = parse(s.example, PlatformKind::Console);
            assert!(parsed.is_ok(), "{}: {parsed:?}", s.example);
        }
    }

    #[test]
    fn words() {
        let mut w = Words::new("  a  b   c d  ");
        assert_eq!(w.peek(), Some("a"));
        assert_eq!(w.next(), Some("a"));
        assert_eq!(w.next(), Some("b"));
        assert_eq!(w.rest(), "c d");
        assert_eq!(w.next(), None);
    }
}

pub use help::text as help_text;
