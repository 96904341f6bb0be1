//! `/inc help [command]`: generated from the grammar's spec table.

use klaxon_commands::{Message, Reply, Rich, help_text};

use crate::engine::ActionResult;

pub fn run(topic: Option<&str>) -> ActionResult {
    let mut message = Message::new();
    for line in help_text(topic).lines() {
        message = message.line(Rich::plain(line));
    }
    Ok(Reply::ok(message))
}
