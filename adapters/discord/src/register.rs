//! `/inc` as a Discord application command, generated from the grammar's specs.
//!
//! Each subcommand's arguments become typed options: severities, statuses and roles as choices,
//! people as USER options, numbers as INTEGER, words and free text as STRING. Discord allows 25
//! subcommands under one command, so the checklist and postmortem commands are grouped
//! (`/inc checklist check`, `/inc postmortem impact`); the text grammar keeps its short forms.

use klaxon_commands::{ArgKind, Spec, specs};
use serenity::all::{CommandOptionType, CommandType, CreateCommand, CreateCommandOption};

use crate::markdown::clip;

/// The command's name: `/inc`.
pub const COMMAND: &str = "inc";
/// The message command that adds a message to its incident's timeline (right-click → Apps).
pub const ADD_TO_TIMELINE: &str = "Add to timeline";

/// A subcommand group: its name, its description, and its (subcommand, spec name) pairs.
pub type Group = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The subcommand groups.
pub const GROUPS: &[Group] = &[
    (
        "checklist",
        "The first-15-minutes checklist",
        &[
            ("show", "checklist"),
            ("check", "check"),
            ("uncheck", "uncheck"),
        ],
    ),
    (
        "postmortem",
        "The postmortem draft, its parts, and the pages to read it on",
        &[
            ("draft", "postmortem"),
            ("impact", "impact"),
            ("rootcause", "rootcause"),
            ("lesson", "lesson"),
            ("followup", "followup"),
            ("web", "web"),
        ],
    ),
];

/// The spec a group's subcommand stands for.
pub fn grouped(group: &str, sub: &str) -> Option<&'static str> {
    GROUPS
        .iter()
        .find(|(g, _, _)| *g == group)
        .and_then(|(_, _, subs)| subs.iter().find(|(s, _)| *s == sub))
        .map(|(_, name)| *name)
}

fn group_of(spec: &str) -> Option<usize> {
    GROUPS
        .iter()
        .position(|(_, _, subs)| subs.iter().any(|(_, name)| *name == spec))
}

/// Every command Klaxon registers: `/inc` and the "Add to timeline" message command.
pub fn commands() -> Vec<CreateCommand> {
    vec![
        inc(),
        CreateCommand::new(ADD_TO_TIMELINE).kind(CommandType::Message),
    ]
}

/// `/inc` with its subcommands, in the order `help` lists them.
pub fn inc() -> CreateCommand {
    let mut options = Vec::new();
    let mut groups_done = Vec::new();
    for spec in specs() {
        match group_of(spec.name) {
            None => options.push(subcommand(spec.name, spec)),
            Some(g) if !groups_done.contains(&g) => {
                groups_done.push(g);
                let (name, description, subs) = GROUPS[g];
                let mut group =
                    CreateCommandOption::new(CommandOptionType::SubCommandGroup, name, description);
                for (sub, spec_name) in subs {
                    if let Some(spec) = specs().iter().find(|s| s.name == *spec_name) {
                        group = group.add_sub_option(subcommand(sub, spec));
                    }
                }
                options.push(group);
            }
            Some(_) => {}
        }
    }
    CreateCommand::new(COMMAND)
        .description("Incident response: declare, update, resolve")
        .dm_permission(false)
        .set_options(options)
}

fn subcommand(name: &str, spec: &Spec) -> CreateCommandOption {
    let mut sub =
        CreateCommandOption::new(CommandOptionType::SubCommand, name, clip(spec.summary, 100));
    // Discord wants required options first; values are put back in the spec's order.
    let (required, optional): (Vec<&klaxon_commands::Arg>, Vec<&klaxon_commands::Arg>) =
        spec.args.iter().partition(|a| a.required);
    for arg in required.into_iter().chain(optional) {
        let kind = match arg.kind {
            ArgKind::User => CommandOptionType::User,
            ArgKind::Count => CommandOptionType::Integer,
            ArgKind::Flag => CommandOptionType::Boolean,
            ArgKind::Severity
            | ArgKind::Status
            | ArgKind::Role
            | ArgKind::Word
            | ArgKind::Named
            | ArgKind::Text => CommandOptionType::String,
        };
        let mut option =
            CreateCommandOption::new(kind, arg.name, clip(arg.help, 100)).required(arg.required);
        for (label, value) in klaxon_commands::options::choices(arg.kind) {
            option = option.add_string_choice(label, value);
        }
        if arg.kind == ArgKind::Text {
            option = option.max_length(2000);
        }
        sub = sub.add_sub_option(option);
    }
    sub
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inc_fits_discords_limits_and_covers_every_spec() {
        let json = serde_json::to_value(inc()).expect("json");
        let options = json["options"].as_array().expect("options");
        assert!(options.len() <= 25, "{} subcommands", options.len());
        let mut reachable = 0;
        for option in options {
            let name = option["name"].as_str().expect("name");
            assert!(name.len() <= 32 && name == name.to_lowercase());
            assert!(option["description"].as_str().expect("d").chars().count() <= 100);
            match option["type"].as_u64() {
                Some(1) => reachable += 1,
                Some(2) => {
                    for sub in option["options"].as_array().expect("subs") {
                        assert!(grouped(name, sub["name"].as_str().expect("n")).is_some());
                        reachable += 1;
                    }
                }
                other => panic!("unexpected option type {other:?}"),
            }
        }
        assert_eq!(reachable, specs().len());
        let declare = options
            .iter()
            .find(|o| o["name"] == "declare")
            .expect("declare");
        assert_eq!(declare["options"][0]["name"], "title");
        assert_eq!(declare["options"][0]["required"], true);
        assert_eq!(declare["options"][1]["name"], "private");
        assert_eq!(declare["options"][1]["type"], 5);
        assert_eq!(declare["options"][2]["name"], "severity");
        assert_eq!(declare["options"][2]["choices"][0]["value"], "sev1");
        // `--oncall <schedule>` is an option of declare, not a subcommand of its own.
        assert_eq!(declare["options"][3]["name"], "oncall");
        assert_eq!(declare["options"][3]["type"], 3, "a STRING option");
        let role = options.iter().find(|o| o["name"] == "role").expect("role");
        assert_eq!(role["options"][1]["type"], 6, "a USER option");
    }
}
