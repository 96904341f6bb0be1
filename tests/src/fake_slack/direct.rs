//! Direct messages on the fake Slack: `conversations.open` makes (or finds) the IM between the
//! bot and one person, which `chat.postMessage` and `conversations.history` then take by id.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::web::{Answer, BOT_USER, Channel, Workspace};

fn err(code: &str) -> Answer {
    Answer::Err(code.to_owned(), json!({}))
}

/// docs.slack.dev/reference/methods/conversations.open: needs `im:write` (a bot token's scope
/// for 1:1 DMs); `users` is "a comma separated list of users", one of them opening a 1:1 DM;
/// "Errors": `user_not_found` (a user id Slack does not know), `cannot_dm_bot` (the bot itself),
/// `users_list_not_supplied` (neither `users` nor `channel`). Opening a DM that is already open
/// answers the same channel, with `already_open: true`.
pub(super) fn open(w: &mut Workspace, body: &Value) -> Answer {
    if let Err(a) = w.need("im:write") {
        return a;
    }
    let users: Vec<String> = match &body["users"] {
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(s) => s
            .split(',')
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let [user] = users.as_slice() else {
        // Several users open a group DM (mpim:write), which Klaxon never asks for.
        return err(if users.is_empty() {
            "users_list_not_supplied"
        } else {
            "not_supported"
        });
    };
    if user == BOT_USER {
        return err("cannot_dm_bot");
    }
    if !w.users.contains_key(user) {
        return err("user_not_found");
    }
    let id = format!("D0{user}");
    let already = w.channels.contains_key(&id);
    w.channels.entry(id.clone()).or_insert_with(|| Channel {
        id: id.clone(),
        private: true,
        members: BTreeSet::from([BOT_USER.to_owned(), user.clone()]),
        im: Some(user.clone()),
        creator: BOT_USER.to_owned(),
        ..Channel::default()
    });
    Answer::Ok(json!({
        "no_op": already,
        "already_open": already,
        "channel": { "id": id },
    }))
}

/// docs.slack.dev/reference/methods/conversations.history, "Scopes": reading an IM's
/// history takes `im:history` (`channels:history` and `groups:history` are for channels).
pub(super) fn history_scope(w: &Workspace, channel: &str) -> Result<(), Answer> {
    if w.channels.get(channel).is_some_and(|c| c.im.is_some()) {
        w.need("im:history")?;
    }
    Ok(())
}
