//! `UserError`: the exact short text a user reads when their input cannot be acted on.

use std::fmt;

/// A refusal caused by the user's input or the incident's state. Its text is shown as is, so it
/// says what went wrong and what to do next, in one or two short sentences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError(String);

impl UserError {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}
