//! What a loaded runbook is: its checklists, escalation matrix, decision tree and actions, and
//! the problems a file can have.

use std::collections::BTreeMap;
use std::path::PathBuf;

use klaxon_commands::{Role, Severity};
use serde::Deserialize;

pub use crate::files::Problem;

/// A step of a checklist: text, and optionally a command to copy or an action to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub text: String,
    pub command: Option<String>,
    pub action: Option<String>,
}

/// A row of the escalation matrix.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    pub condition: String,
    pub primary: String,
    pub secondary: Option<String>,
    pub escalate_to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owners {
    pub primary: Option<String>,
    pub secondary: Option<String>,
    pub escalation: Option<String>,
}

/// A node of the decision tree: a question with answers, or a leaf with a recommendation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Question {
        text: String,
        /// Answer → next node, in file order for yes/no.
        answers: Vec<(String, String)>,
    },
    Leaf {
        recommend: String,
        action: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
}

/// The type of an action parameter.
#[derive(Debug, Clone)]
pub enum ParamKind {
    Text,
    Word,
    Int { min: Option<i64>, max: Option<i64> },
    Enum(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Param {
    pub kind: ParamKind,
    pub required: bool,
    pub pattern: Option<regex::Regex>,
    pub help: Option<String>,
}

/// An HTTP check that must pass before an action is sent.
#[derive(Debug, Clone)]
pub struct Precondition {
    pub name: String,
    pub method: reqwest::Method,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expect_status: Option<u16>,
}

/// A side-effecting action: an HTTP request behind guardrails.
#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub runbook: String,
    pub title: String,
    pub method: reqwest::Method,
    pub url: String,
    pub body: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub timeout: std::time::Duration,
    pub allowed_roles: Vec<Role>,
    pub allowed_users: Vec<String>,
    pub min_severity: Option<Severity>,
    pub confirm: bool,
    pub params: BTreeMap<String, Param>,
    pub preconditions: Vec<Precondition>,
    pub request_id_header: String,
}

#[derive(Debug, Clone)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    pub severity: Option<Severity>,
    pub owners: Owners,
    pub triggers: Vec<String>,
    pub triage: Vec<Step>,
    pub containment: Vec<Step>,
    pub recovery: Vec<Step>,
    pub evidence: Vec<String>,
    pub verification: Vec<Step>,
    pub escalation: Vec<Escalation>,
    pub decision: Option<Decision>,
    /// Action names, in file order; the actions are in the catalog.
    pub actions: Vec<String>,
    pub source: PathBuf,
    /// Actions that steps and leaves refer to, with where: checked once every file is loaded,
    /// since a step may run another runbook's action.
    pub(super) references: Vec<(String, Problem)>,
}
