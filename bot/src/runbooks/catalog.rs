//! The catalog: every runbook and action loaded from the runbooks folder.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Action, Problem, Runbook, parse};

/// Every loaded runbook and action.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub runbooks: BTreeMap<String, Runbook>,
    pub actions: BTreeMap<String, Action>,
}

impl Catalog {
    /// Loads every `*.toml` in `dir`, in name order. Files with problems are skipped and their
    /// problems returned; a missing folder is an empty catalog.
    pub fn load_dir(dir: &Path) -> (Self, Vec<Problem>) {
        let mut catalog = Self::default();
        let mut problems = Vec::new();
        let mut loaded: Vec<Runbook> = Vec::new();
        for (file, text) in crate::files::toml_files(dir) {
            let text = match text {
                Ok(t) => t,
                Err(p) => {
                    problems.push(p);
                    continue;
                }
            };
            match parse(&file, &text, &catalog) {
                Ok((runbook, actions)) => {
                    for action in actions {
                        catalog.actions.insert(action.name.clone(), action);
                    }
                    catalog.runbooks.insert(runbook.id.clone(), runbook.clone());
                    loaded.push(runbook);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        // Every action a step or leaf names must exist somewhere; a runbook that names a
        // missing one is not loaded (with its actions), since it would send people nowhere.
        for runbook in loaded {
            let dangling: Vec<Problem> = runbook
                .references
                .iter()
                .filter(|(name, _)| !catalog.actions.contains_key(name))
                .map(|(name, at)| Problem {
                    message: format!("refers to action `{name}`, which no runbook defines"),
                    ..at.clone()
                })
                .collect();
            if !dangling.is_empty() {
                catalog.runbooks.remove(&runbook.id);
                for a in &runbook.actions {
                    catalog.actions.remove(a);
                }
                problems.extend(dangling);
            }
        }
        problems.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        (catalog, problems)
    }
}
