//! What many actions share: the one-line confirmation, and the refusal of a change to a
//! resolved incident.

use klaxon_commands::{Message, Reply, Rich, UserError};

use crate::store::Incident;

/// Refuses a change to a resolved incident.
pub(super) fn ensure_open(incident: &Incident, what: &str) -> Result<(), UserError> {
    if incident.is_open() {
        Ok(())
    } else {
        Err(UserError::new(format!(
            "{} is resolved, so it cannot {what}. `/inc reopen` it first.",
            incident.key()
        )))
    }
}

/// A one-line confirmation for the person who asked.
pub(super) fn done(text: impl Into<String>) -> Reply {
    Reply::ok(Message::new().line(Rich::plain(text)))
}
