//! Decision trees: questions with answers that lead to other nodes, and leaves that
//! recommend, checked so that every answer leads somewhere.

use std::collections::{BTreeMap, BTreeSet};

use super::raw::RawDecision;
use super::{Decision, Node, Problem};
use crate::files::Lines;

/// Builds the tree, with a problem for each node that is neither a question nor a leaf and each
/// answer that leads nowhere; leaves' actions go to `references`, checked once all is loaded.
pub(super) fn decision(
    lines: &Lines<'_>,
    raw: &RawDecision,
    references: &mut Vec<(String, Problem)>,
    problems: &mut Vec<Problem>,
) -> Decision {
    let ids: BTreeSet<&str> = raw.nodes.keys().map(|k| k.get_ref().as_str()).collect();
    if !ids.contains(raw.start.get_ref().as_str()) {
        problems.push(lines.at(
            raw.start.span(),
            format!("start node `{}` is not defined", raw.start.get_ref()),
        ));
    }
    let mut nodes = BTreeMap::new();
    for (key, node) in &raw.nodes {
        let n = node.get_ref();
        let here = node.span();
        let built = match (&n.question, &n.recommend) {
            (Some(q), None) => {
                let mut answers = Vec::new();
                if let Some(y) = &n.yes {
                    answers.push(("yes".to_owned(), y.clone()));
                }
                if let Some(no) = &n.no {
                    answers.push(("no".to_owned(), no.clone()));
                }
                for (choice, next) in &n.choices {
                    answers.push((choice.to_ascii_lowercase(), next.clone()));
                }
                if answers.is_empty() {
                    problems.push(lines.at(
                        here.clone(),
                        format!(
                            "question `{}` needs answers: yes/no or choices",
                            key.get_ref()
                        ),
                    ));
                }
                for (_, next) in &answers {
                    if !ids.contains(next.as_str()) {
                        problems.push(lines.at(
                            here.clone(),
                            format!("`{}` leads to `{next}`, which is not a node", key.get_ref()),
                        ));
                    }
                }
                if n.action.is_some() {
                    problems.push(
                        lines.at(here.clone(), "only a leaf (`recommend`) can name an action"),
                    );
                }
                Node::Question {
                    text: q.clone(),
                    answers,
                }
            }
            (None, Some(r)) => {
                if n.yes.is_some() || n.no.is_some() || !n.choices.is_empty() {
                    problems.push(lines.at(
                        here.clone(),
                        format!(
                            "leaf `{}` has a recommendation, so it cannot have answers",
                            key.get_ref()
                        ),
                    ));
                }
                if let Some(a) = &n.action {
                    references.push((a.clone(), lines.at(here.clone(), String::new())));
                }
                Node::Leaf {
                    recommend: r.clone(),
                    action: n.action.clone(),
                }
            }
            _ => {
                problems.push(lines.at(
                    here.clone(),
                    format!(
                        "node `{}` needs exactly one of `question` or `recommend`",
                        key.get_ref()
                    ),
                ));
                continue;
            }
        };
        nodes.insert(key.get_ref().clone(), built);
    }
    Decision {
        start: raw.start.get_ref().clone(),
        nodes,
    }
}
