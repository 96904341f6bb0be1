//! Button action ids, `klaxon.<action>`: written by `mrkdwn` under Klaxon's messages and read
//! back by `interaction` when one is clicked.

use klaxon_commands::ButtonAction;

/// The action id Klaxon gives its buttons: `klaxon.ack`, `klaxon.resolve`.
pub fn action_id(action: ButtonAction) -> String {
    format!("klaxon.{}", action.as_str())
}

/// The button an action id names; `None` for anything that is not a Klaxon button.
pub fn parse_action_id(id: &str) -> Option<ButtonAction> {
    id.strip_prefix("klaxon.").and_then(ButtonAction::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_ids_round_trip() {
        assert_eq!(action_id(ButtonAction::Ack), "klaxon.ack");
        assert_eq!(parse_action_id("klaxon.ack"), Some(ButtonAction::Ack));
        assert_eq!(parse_action_id("klaxon.frob"), None);
        assert_eq!(parse_action_id("other.ack"), None);
    }
}
