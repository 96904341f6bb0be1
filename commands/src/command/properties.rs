//! Property tests of the grammar: whatever is typed (arbitrary text, or near-valid commands
//! built from the spec table's own words), `parse` and `from_options` answer with a command or
//! a short `UserError`, never a panic, and a parsed command only holds validated values.

use proptest::prelude::*;

use super::{Command, SPECS, parse};
use crate::values::{MAX_TEXT_CHARS, MAX_TITLE_CHARS};
use crate::{OptionValue, PlatformKind, UserError, from_options};

/// Cases per property: enough to shake the grammar, few enough that the whole run stays fast.
const CASES: u32 = 512;

/// The longest refusal the grammar may give (a usage line included): a short reply, whatever
/// was typed.
const MAX_ERROR_CHARS: usize = 400;

const PLATFORMS: [PlatformKind; 3] = [
    PlatformKind::Console,
    PlatformKind::Slack,
    PlatformKind::Discord,
];

/// Words a person might type after a subcommand: values each argument kind accepts, values it
/// refuses, and the edges of both.
const WORDS: &[&str] = &[
    "sev1",
    "SEV-2",
    "s3",
    "4",
    "sev0",
    "sev5",
    "sev",
    "S_1",
    "triage",
    "contained",
    "recovering",
    "resolved",
    "ic",
    "comms",
    "scribe",
    "ops",
    "IC",
    "0",
    "1",
    "-1",
    "999999999999999999999",
    "18446744073709551616",
    "4294967296",
    "15m",
    "90s",
    "1h30m",
    "2d",
    "0s",
    "300000y",
    "1e9h",
    "9999999999999999999s",
    "1.5h",
    "m",
    "--private",
    "--dry-run",
    "--",
    "-",
    "--PRIVATE",
    "add",
    "done",
    "list",
    "show",
    "start",
    "off",
    "on",
    "every",
    "snooze",
    "due",
    "2026-11-23",
    "2026-02-30",
    "9999-99-99",
    "yes",
    "no",
    "@bob",
    "<@U0BOB>",
    "<@U0BOB|bob>",
    "<@123456>",
    "<@!123>",
    "<@&456>",
    "<!channel>",
    "<!here>",
    "@everyone",
    "@here",
    "<!subteam^S1>",
    "key=value",
    "id=../../admin",
    "reason=\"x\"",
    "=",
    "a=",
    "=b",
    "ABC123",
    "\u{202E}",
    "\u{200B}",
    "\u{0000}",
    "\u{FEFF}",
    "🔥",
    "é",
    "Ｓｅｖ１",
    "\t",
    "\n",
    "inc",
    "/inc",
    "help",
];

/// Whitespace of every kind the grammar might meet between words.
const SPACES: &[&str] = &[" ", "  ", "\t", "\n", "\u{3000}", "\u{00A0}", "\r\n", ""];

/// A subcommand's name or alias, in some mixture of cases, or a near miss of one.
fn name() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = SPECS
        .iter()
        .flat_map(|s| std::iter::once(s.name).chain(s.aliases.iter().copied()))
        .collect();
    (
        proptest::sample::select(names),
        any::<u8>(),
        proptest::option::of(any::<char>()),
    )
        .prop_map(|(name, case, extra)| {
            let mut out: String = name
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if case & (1 << (i % 8)) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            if let Some(c) = extra {
                out.push(c);
            }
            out
        })
}

/// One word after the subcommand: from the vocabulary above, or anything at all.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => "[a-z0-9=@<>|!&^._-]{1,12}",
        1 => proptest::num::i64::ANY.prop_map(|n| n.to_string()),
        1 => "\\PC{0,300}",
    ]
}

/// A near-valid command: `/inc`, maybe, a subcommand, then words with odd spacing between.
fn near_valid() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        name(),
        proptest::collection::vec((proptest::sample::select(SPACES), word()), 0..6),
    )
        .prop_map(|(slash, name, rest)| {
            let mut out = if slash {
                "/inc ".to_owned()
            } else {
                String::new()
            };
            out.push_str(&name);
            for (space, word) in rest {
                out.push_str(if space.is_empty() { " " } else { space });
                out.push_str(&word);
            }
            out
        })
}

/// Every value a parsed command holds passed its type's checks.
fn check_answer(input: &str, answer: &Result<Command, UserError>) -> Result<(), TestCaseError> {
    match answer {
        Ok(command) => {
            let json = serde_json::to_value(command).map_err(|e| {
                TestCaseError::fail(format!("{input:?}: unserialisable command: {e}"))
            })?;
            check_values(input, &json)?;
        }
        Err(e) => {
            let text = e.text();
            prop_assert!(!text.trim().is_empty(), "{input:?}: an empty refusal");
            prop_assert!(
                text.chars().count() <= MAX_ERROR_CHARS,
                "{input:?}: a refusal of {} characters: {text}",
                text.chars().count()
            );
        }
    }
    Ok(())
}

/// Titles and texts anywhere in a command's JSON are within their limits and hold no control
/// characters (the values' own rules).
fn check_values(input: &str, json: &serde_json::Value) -> Result<(), TestCaseError> {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                if let serde_json::Value::String(s) = value {
                    let limit = match key.as_str() {
                        "title" => MAX_TITLE_CHARS,
                        "text" | "summary" => MAX_TEXT_CHARS,
                        _ => continue,
                    };
                    prop_assert!(
                        s.chars().count() <= limit,
                        "{input:?}: {key} of {} characters",
                        s.chars().count()
                    );
                    prop_assert!(
                        !s.chars().any(|c| c.is_control() && c != '\n'),
                        "{input:?}: {key} holds a control character: {s:?}"
                    );
                    prop_assert!(!s.trim().is_empty(), "{input:?}: an empty {key}");
                }
                check_values(input, value)?;
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                check_values(input, item)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A typed option as Discord hands it over.
fn option() -> impl Strategy<Value = (String, OptionValue)> {
    let args: Vec<&'static str> = SPECS
        .iter()
        .flat_map(|s| s.args.iter().map(|a| a.name))
        .chain(["", "bogus"])
        .collect();
    (
        proptest::sample::select(args),
        prop_oneof![
            word().prop_map(OptionValue::Text),
            any::<i64>().prop_map(OptionValue::Integer),
            "[0-9]{0,25}".prop_map(OptionValue::User),
            any::<String>().prop_map(OptionValue::User),
            any::<bool>().prop_map(OptionValue::Flag),
        ],
    )
        .prop_map(|(name, value)| (name.to_owned(), value))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn parse_answers_any_text_with_a_command_or_a_short_refusal(
        input in any::<String>(),
        platform in proptest::sample::select(&PLATFORMS[..]),
    ) {
        let answer = parse(&input, platform);
        check_answer(&input, &answer)?;
    }

    #[test]
    fn parse_answers_near_valid_commands_with_a_command_or_a_short_refusal(
        input in near_valid(),
        platform in proptest::sample::select(&PLATFORMS[..]),
    ) {
        let answer = parse(&input, platform);
        check_answer(&input, &answer)?;
    }

    #[test]
    fn typed_options_answer_with_a_command_or_a_short_refusal(
        name in name(),
        options in proptest::collection::vec(option(), 0..5),
        platform in proptest::sample::select(&PLATFORMS[..]),
    ) {
        let answer = from_options(&name, &options, platform);
        check_answer(&format!("{name} {options:?}"), &answer)?;
    }
}
