//! Scenario scripts: the same `/inc` lines run against every adapter.

/// The foundation scenario's command lines (comments and blank lines dropped).
pub fn foundation() -> Vec<&'static str> {
    lines(include_str!("../scenarios/foundation.txt"))
}

/// The raw text of the foundation scenario, for piping into the console.
pub const FOUNDATION: &str = include_str!("../scenarios/foundation.txt");

pub fn lines(script: &'static str) -> Vec<&'static str> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// A scenario line as Discord's client sends it: the subcommand (and group) and its typed
/// options, filled in the way a person fills the form. `@name` becomes a USER option with the
/// id `users` gives it.
pub fn discord_options(
    line: &str,
    users: &dyn Fn(&str) -> String,
) -> (Option<&'static str>, String, serde_json::Value) {
    use klaxon_commands::{ArgKind, specs};
    let text = line.trim().trim_start_matches("/inc").trim();
    let (name, mut rest) = text.split_once(' ').unwrap_or((text, ""));
    let spec = specs()
        .iter()
        .find(|s| s.name == name || s.aliases.contains(&name))
        .unwrap_or_else(|| panic!("no command {name}"));
    let mut options = Vec::new();
    for arg in spec.args {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
        let (value, kind) = match arg.kind {
            ArgKind::Flag if word == format!("--{}", arg.name) || word == arg.name => {
                (serde_json::json!(true), 5)
            }
            ArgKind::Flag => continue,
            ArgKind::Named if word == format!("--{}", arg.name) => {
                let (value, later) = after.split_once(' ').unwrap_or((after, ""));
                options.push(serde_json::json!({ "name": arg.name, "type": 3, "value": value }));
                rest = later;
                continue;
            }
            ArgKind::Named => continue,
            ArgKind::Severity => match klaxon_commands::Severity::from_word(word) {
                // A choice's value, as the client sends it.
                Some(s) => (serde_json::json!(format!("sev{}", s.level())), 3),
                None => continue,
            },
            ArgKind::Text => (serde_json::json!(rest), 3),
            ArgKind::User => (serde_json::json!(users(word.trim_start_matches('@'))), 6),
            ArgKind::Count => (serde_json::json!(word.parse::<i64>().unwrap_or(0)), 4),
            _ => (serde_json::json!(word), 3),
        };
        options.push(serde_json::json!({ "name": arg.name, "type": kind, "value": value }));
        rest = if arg.kind == ArgKind::Text { "" } else { after };
    }
    // Where the registered command puts it: `/inc <sub>` or `/inc <group> <sub>`.
    let (group, sub) = klaxon_discord::register::GROUPS
        .iter()
        .find_map(|(group, _, subs)| {
            subs.iter()
                .find(|(_, name)| *name == spec.name)
                .map(|(sub, _)| (Some(*group), (*sub).to_owned()))
        })
        .unwrap_or_else(|| (None, spec.name.to_owned()));
    (group, sub, serde_json::Value::Array(options))
}
