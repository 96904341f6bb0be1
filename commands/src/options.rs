//! Typed options (Discord's slash-command options) onto the same [`Command`] the text grammar
//! produces.
//!
//! A platform with typed options hands over the subcommand's name and the values the person
//! filled in, by argument name. They are put back in the spec's argument order as the words the
//! grammar reads, and parsed by that grammar: validation and error texts are the text
//! grammar's own, word for word.

use crate::command::{ArgKind, spec};
use crate::{Command, PlatformKind, Role, Severity, Status, Title, UserError};

/// One filled-in option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// A string option (a word, free text, or a choice).
    Text(String),
    /// An integer option.
    Integer(i64),
    /// A user option: the platform's user id.
    User(String),
    /// A boolean option, for a `--flag`.
    Flag(bool),
}

/// The choices a typed option offers, for arguments with a fixed set of values.
pub fn choices(kind: ArgKind) -> Vec<(&'static str, String)> {
    match kind {
        ArgKind::Severity => Severity::ALL
            .iter()
            .map(|s| (label_of_severity(*s), format!("sev{}", s.level())))
            .collect(),
        ArgKind::Status => Status::ALL
            .iter()
            .map(|s| (s.as_str(), s.as_str().to_owned()))
            .collect(),
        ArgKind::Role => Role::ALL
            .iter()
            .map(|r| (r.label(), r.as_str().to_owned()))
            .collect(),
        ArgKind::User
        | ArgKind::Count
        | ArgKind::Word
        | ArgKind::Named
        | ArgKind::Text
        | ArgKind::Flag => Vec::new(),
    }
}

fn label_of_severity(s: Severity) -> &'static str {
    match s {
        Severity::Sev1 => "SEV1",
        Severity::Sev2 => "SEV2",
        Severity::Sev3 => "SEV3",
        Severity::Sev4 => "SEV4",
    }
}

/// The command that subcommand `name` with these options means, as typed on `platform`.
pub fn from_options(
    name: &str,
    options: &[(String, OptionValue)],
    platform: PlatformKind,
) -> Result<Command, UserError> {
    let Some(spec) = spec(name) else {
        return crate::parse(name, platform);
    };
    for (option, _) in options {
        if !spec.args.iter().any(|a| a.name == option) {
            return Err(UserError::new(format!(
                "`{}` takes no option `{}`. Usage: `/inc {}`.",
                spec.name,
                crate::values::shorten(option, 20),
                spec.usage
            )));
        }
    }
    let value = |arg: &str| options.iter().find(|(n, _)| n == arg).map(|(_, v)| v);
    // A title is free text: with no severity chosen, its first word is never read as one.
    if spec.name == "declare"
        && value("severity").is_none()
        && let Some(OptionValue::Text(title)) = value("title")
    {
        let oncall = match value("oncall") {
            Some(OptionValue::Text(s)) => Some(crate::ScheduleRef::parse(s.trim())?),
            _ => None,
        };
        return Ok(Command::Declare {
            severity: None,
            title: Title::parse(title)?,
            private: matches!(value("private"), Some(OptionValue::Flag(true))),
            oncall,
        });
    }
    let mut text = String::from(spec.name);
    for arg in spec.args {
        let Some(v) = value(arg.name) else { continue };
        match v {
            OptionValue::Flag(false) => continue,
            OptionValue::Flag(true) => text.push_str(&format!(" --{}", arg.name)),
            OptionValue::Text(t) if arg.kind == ArgKind::Named => {
                text.push_str(&format!(" --{} {}", arg.name, t.trim()));
            }
            OptionValue::Text(t) => {
                text.push(' ');
                text.push_str(t.trim());
            }
            OptionValue::Integer(n) => text.push_str(&format!(" {n}")),
            OptionValue::User(id) => {
                text.push(' ');
                text.push_str(&mention(platform, id));
            }
        }
    }
    crate::parse(&text, platform)
}

fn mention(platform: PlatformKind, id: &str) -> String {
    match platform {
        PlatformKind::Console => format!("@{id}"),
        PlatformKind::Slack | PlatformKind::Discord => format!("<@{id}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserRef;

    fn opts(list: &[(&str, OptionValue)]) -> Vec<(String, OptionValue)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect()
    }

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.to_owned())
    }

    #[test]
    fn options_become_the_same_commands_as_text() {
        let d = PlatformKind::Discord;
        assert_eq!(
            from_options(
                "declare",
                &opts(&[
                    ("severity", text("sev1")),
                    ("title", text("checkout errors"))
                ]),
                d
            ),
            Ok(Command::Declare {
                severity: Some(Severity::Sev1),
                title: Title::parse("checkout errors").expect("title"),
                private: false,
                oncall: None,
            })
        );
        assert_eq!(
            from_options(
                "role",
                &opts(&[
                    ("role", text("comms")),
                    ("user", OptionValue::User("42".into()))
                ]),
                d
            ),
            Ok(Command::Role {
                role: Role::Comms,
                user: UserRef::id("42"),
            })
        );
        assert_eq!(
            from_options("check", &opts(&[("item", OptionValue::Integer(3))]), d),
            Ok(Command::Check { item: 3 })
        );
        assert_eq!(
            from_options("update", &opts(&[("text", text("rolled back v2"))]), d),
            crate::parse("update rolled back v2", d)
        );
        assert_eq!(from_options("ack", &[], d), Ok(Command::Ack));
    }

    #[test]
    fn the_oncall_option_is_the_typed_flag() {
        let d = PlatformKind::Discord;
        for with_severity in [true, false] {
            let mut options = vec![
                ("oncall", text("payments/secondary")),
                ("title", text("checkout slow")),
            ];
            let mut typed = "declare --oncall payments/secondary checkout slow".to_owned();
            if with_severity {
                options.insert(0, ("severity", text("sev2")));
                typed = "declare sev2 --oncall payments/secondary checkout slow".to_owned();
            }
            assert_eq!(
                from_options("declare", &opts(&options), d),
                crate::parse(&typed, d)
            );
        }
        assert_eq!(
            from_options(
                "declare",
                &opts(&[("oncall", text("no way")), ("title", text("x"))]),
                d
            )
            .map_err(|e| e.to_string()),
            Err(
                "`no way` is not a schedule. Write it like `payments` or `payments/secondary`."
                    .to_owned()
            )
        );
    }

    #[test]
    fn a_title_is_never_read_as_a_severity() {
        assert_eq!(
            from_options(
                "declare",
                &opts(&[("title", text("1 node down"))]),
                PlatformKind::Discord
            ),
            Ok(Command::Declare {
                severity: None,
                title: Title::parse("1 node down").expect("title"),
                private: false,
                oncall: None,
            })
        );
        assert_eq!(
            from_options(
                "declare",
                &opts(&[
                    ("private", OptionValue::Flag(true)),
                    ("severity", text("sev2")),
                    ("title", text("private beta down"))
                ]),
                PlatformKind::Discord
            ),
            Ok(Command::Declare {
                severity: Some(Severity::Sev2),
                title: Title::parse("private beta down").expect("title"),
                private: true,
                oncall: None,
            })
        );
    }

    #[test]
    fn errors_are_the_grammars() {
        let d = PlatformKind::Discord;
        let err = |name: &str, o: &[(&str, OptionValue)]| {
            from_options(name, &opts(o), d).map_err(|e| e.text().to_owned())
        };
        assert_eq!(
            err("check", &[("item", OptionValue::Integer(0))]),
            crate::parse("check 0", d).map_err(|e| e.text().to_owned())
        );
        assert!(err("check", &[("item", OptionValue::Integer(0))]).is_err());
        assert_eq!(
            err("declare", &[("title", text("   "))]),
            crate::parse("declare", d).map_err(|e| e.text().to_owned())
        );
        assert_eq!(
            err("ack", &[("x", text("y"))]),
            Err("`ack` takes no option `x`. Usage: `/inc ack`.".to_owned())
        );
        assert_eq!(
            err(
                "remind",
                &[("action", text("snooze")), ("duration", text("soon"))]
            ),
            crate::parse("remind snooze soon", d).map_err(|e| e.text().to_owned())
        );
    }

    #[test]
    fn choices_cover_the_fixed_sets() {
        assert_eq!(choices(ArgKind::Severity).len(), 4);
        assert_eq!(choices(ArgKind::Severity)[0], ("SEV1", "sev1".to_owned()));
        assert_eq!(choices(ArgKind::Status).len(), 4);
        assert_eq!(choices(ArgKind::Role)[0].1, "ic");
        assert!(choices(ArgKind::Text).is_empty());
    }
}
