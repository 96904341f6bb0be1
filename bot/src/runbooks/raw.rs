//! The file format, as written: the serde mirror of a runbook file, with spans for the
//! problems' lines. `parse` turns it into the model.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Escalation, Owners};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRunbook {
    pub(super) id: Spanned<String>,
    pub(super) title: String,
    pub(super) severity: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) owners: Owners,
    #[serde(default)]
    pub(super) triggers: Vec<String>,
    #[serde(default)]
    pub(super) triage: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub(super) containment: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub(super) recovery: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub(super) evidence: Vec<String>,
    #[serde(default)]
    pub(super) verification: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub(super) escalation: Vec<Escalation>,
    pub(super) decision: Option<RawDecision>,
    #[serde(default)]
    pub(super) actions: BTreeMap<Spanned<String>, Spanned<RawAction>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawStep {
    Text(String),
    Full(FullStep),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FullStep {
    pub(super) text: String,
    pub(super) command: Option<String>,
    pub(super) action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDecision {
    pub(super) start: Spanned<String>,
    pub(super) nodes: BTreeMap<Spanned<String>, Spanned<RawNode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(super) question: Option<String>,
    pub(super) yes: Option<String>,
    pub(super) no: Option<String>,
    #[serde(default)]
    pub(super) choices: BTreeMap<String, String>,
    pub(super) recommend: Option<String>,
    pub(super) action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAction {
    pub(super) title: String,
    pub(super) method: Spanned<String>,
    pub(super) url: Spanned<String>,
    pub(super) body: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) allowed_roles: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) allowed_users: Vec<String>,
    pub(super) min_severity: Option<Spanned<String>>,
    /// Fail closed: an action asks for confirmation unless it says `confirm = false`.
    #[serde(default = "yes")]
    pub(super) confirm: bool,
    #[serde(default)]
    pub(super) params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    pub(super) preconditions: Vec<Spanned<RawPrecondition>>,
    pub(super) request_id_header: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    pub(super) kind: Option<Spanned<String>>,
    #[serde(default = "yes")]
    pub(super) required: bool,
    pub(super) pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) values: Vec<String>,
    pub(super) min: Option<i64>,
    pub(super) max: Option<i64>,
    pub(super) help: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrecondition {
    pub(super) name: String,
    pub(super) method: Option<Spanned<String>>,
    pub(super) url: Spanned<String>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, Spanned<String>>,
    pub(super) expect_status: Option<u16>,
}
