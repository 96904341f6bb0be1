//! Validation of one runbook file: ids, steps, the decision tree and the actions, each problem
//! at its file, line and column.

use std::path::Path;

use klaxon_commands::Severity;
use toml::Spanned;

use super::raw::{RawRunbook, RawStep};
use crate::files::Lines;

use super::{Action, Catalog, Problem, Runbook, Step, action, decision};

const ID_RULE: &str = "lowercase letters, digits and -, starting with a letter, at most 40";

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Parses and validates one file against what is already loaded (ids and action names must be
/// unique across files).
pub fn parse(
    file: &Path,
    text: &str,
    loaded: &Catalog,
) -> Result<(Runbook, Vec<Action>), Vec<Problem>> {
    let lines = Lines { file, text };
    let raw: RawRunbook = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        // One problem, one line: toml's multi-line messages are folded.
        let message: Vec<&str> = e
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        vec![lines.at(span, message.join("; "))]
    })?;
    let mut problems = Vec::new();
    let id = raw.id.get_ref().clone();
    if !valid_id(&id) {
        problems.push(lines.at(raw.id.span(), format!("id `{id}` must be {ID_RULE}")));
    } else if let Some(other) = loaded.runbooks.get(&id) {
        problems.push(lines.at(
            raw.id.span(),
            format!("id `{id}` is already used by {}", other.source.display()),
        ));
    }
    let severity = raw.severity.as_ref().and_then(|s| {
        Severity::from_word(s.get_ref()).or_else(|| {
            problems.push(lines.at(
                s.span(),
                format!("`{}` is not a severity (sev1-sev4)", s.get_ref()),
            ));
            None
        })
    });

    // Actions first: steps and the decision tree refer to them.
    let mut actions = Vec::new();
    let mut names = Vec::new();
    for (name, raw_action) in &raw.actions {
        let n = name.get_ref().clone();
        if !valid_id(&n) {
            problems.push(lines.at(name.span(), format!("action name `{n}` must be {ID_RULE}")));
            continue;
        }
        if let Some(other) = loaded.actions.get(&n) {
            problems.push(lines.at(
                name.span(),
                format!(
                    "action `{n}` is already defined in runbook `{}`",
                    other.runbook
                ),
            ));
            continue;
        }
        names.push(n.clone());
        if let Some(action) = action::action(&lines, &id, &n, raw_action, &mut problems) {
            actions.push(action);
        }
    }
    let mut references: Vec<(String, Problem)> = Vec::new();

    let mut steps = |list: &[Spanned<RawStep>], problems: &mut Vec<Problem>| -> Vec<Step> {
        list.iter()
            .map(|s| {
                let step = match s.get_ref() {
                    RawStep::Text(t) => Step {
                        text: t.clone(),
                        command: None,
                        action: None,
                    },
                    RawStep::Full(f) => Step {
                        text: f.text.clone(),
                        command: f.command.clone(),
                        action: f.action.clone(),
                    },
                };
                if step.text.trim().is_empty() {
                    problems.push(lines.at(s.span(), "a step needs text"));
                }
                if let Some(a) = &step.action {
                    references.push((a.clone(), lines.at(s.span(), String::new())));
                }
                step
            })
            .collect()
    };
    let triage = steps(&raw.triage, &mut problems);
    let containment = steps(&raw.containment, &mut problems);
    let recovery = steps(&raw.recovery, &mut problems);
    let verification = steps(&raw.verification, &mut problems);
    if triage.is_empty() {
        problems.push(lines.at(
            raw.id.span(),
            "a runbook needs a triage checklist (`triage = [...]`)",
        ));
    }

    let decision = raw
        .decision
        .as_ref()
        .map(|d| decision::decision(&lines, d, &mut references, &mut problems));

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok((
        Runbook {
            id: id.clone(),
            title: raw.title,
            severity,
            owners: raw.owners,
            triggers: raw.triggers,
            triage,
            containment,
            recovery,
            evidence: raw.evidence,
            verification,
            escalation: raw.escalation,
            decision,
            actions: names,
            source: file.to_path_buf(),
            references,
        },
        actions,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Runbook, Vec<String>> {
        parse(Path::new("rb.toml"), text, &Catalog::default())
            .map(|(r, _)| r)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    const GOOD: &str = r#"
id = "kill-switch"
title = "Risk kill switch"
severity = "sev1"
triage = ["Check the switch", { text = "Look at the logs", command = "journalctl -u api" }]

[decision]
start = "q1"
[decision.nodes.q1]
question = "Is it triggered?"
yes = "halt"
no = "done"
[decision.nodes.halt]
recommend = "Keep it halted"
action = "halt"
[decision.nodes.done]
recommend = "Investigate the orchestrator"

[actions.halt]
title = "Halt"
method = "POST"
url = "https://risk.example.com/halt"
body = '{"reason": {{ reason | tojson }}}'
headers = { Authorization = "Bearer {{ secret.RISK_TOKEN }}" }
allowed_roles = ["ic"]
[actions.halt.params.reason]
kind = "text"
"#;

    #[test]
    fn a_good_file_loads() {
        let rb = check(GOOD).expect("valid");
        assert_eq!(rb.id, "kill-switch");
        assert_eq!(rb.triage[1].command.as_deref(), Some("journalctl -u api"));
        assert_eq!(rb.actions, ["halt"]);
    }

    #[test]
    fn problems_have_lines() {
        let bad = GOOD
            .replace("yes = \"halt\"", "yes = \"nowhere\"")
            .replace("allowed_roles = [\"ic\"]", "")
            .replace("{{ reason | tojson }}", "{{ reson }}");
        let problems = check(&bad).expect_err("invalid");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("rb.toml:") && p.contains("leads to `nowhere`")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("must say who may run it")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`reson` is not a declared parameter")),
            "{problems:?}"
        );
        let syntax = check("id = \"x\"\ntitle = \"t\"\ntriage = [\n").expect_err("syntax");
        assert_eq!(syntax, ["rb.toml:4:1: invalid array; expected `]`"]);
        let unknown = check("id = \"x\"\ntitle = \"t\"\ntriage = [\"a\"]\nowner = \"me\"\n")
            .expect_err("unknown");
        assert!(
            unknown[0].starts_with("rb.toml:4:1: unknown field `owner`"),
            "{unknown:?}"
        );
        let secret_in_url = GOOD.replace(
            "https://risk.example.com/halt",
            "https://risk.example.com/halt?t={{ secret.RISK_TOKEN }}",
        );
        let p = check(&secret_in_url).expect_err("secret in url");
        assert!(
            p[0].contains("secrets may only be used in headers"),
            "{p:?}"
        );
    }
}
