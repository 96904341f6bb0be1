//! Runbooks as code: TOML files in the team's repo, validated with file:line errors, loaded at
//! start-up (a broken file is reported and skipped), and run from chat.
//!
//! The schema is documented in README.md ("Runbook files"); `runbooks/*.toml` are examples.
//!
//! `model.rs` is what a loaded runbook is; `raw.rs` the file as written; `parse.rs` checks one
//! file (with `decision.rs` for the tree and `action.rs` for the actions); `catalog.rs` loads
//! the folder.

mod action;
pub mod allow;
mod catalog;
mod decision;
#[cfg(test)]
mod drills;
mod model;
mod parse;
mod raw;
pub mod request;
pub mod template;

pub use catalog::Catalog;
pub use model::{
    Action, Decision, Escalation, Node, Owners, Param, ParamKind, Precondition, Problem, Runbook,
    Step,
};
pub use parse::parse;
