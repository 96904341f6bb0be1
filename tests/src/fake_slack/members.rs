//! Who is in a channel: `conversations.invite` and `conversations.join`, refusing what Slack
//! refuses (each method's page on docs.slack.dev, "Errors").

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::web::{Answer, BOT_USER, Workspace, channel_json, manage_scope};

fn err(code: &str) -> Answer {
    Answer::Err(code.to_owned(), json!({}))
}

/// docs.slack.dev/reference/methods/conversations.invite, "Errors": `cant_invite_self`,
/// `already_in_channel`, `user_not_found`, `not_in_channel` (the inviter is not a member),
/// `is_archived`. Without `force`, one bad user fails the whole call and nobody is added.
pub(super) fn invite(w: &mut Workspace, channel: &str, users: &str) -> Result<Value, Answer> {
    let known: BTreeSet<String> = w.users.keys().cloned().collect();
    let private = w.by_id(channel)?.private;
    w.need(manage_scope(private))?;
    let c = w.by_id(channel)?;
    if c.archived {
        return Err(err("is_archived"));
    }
    if !c.members.contains(BOT_USER) {
        return Err(err("not_in_channel"));
    }
    let users: Vec<&str> = users.split(',').filter(|u| !u.is_empty()).collect();
    if users.is_empty() {
        return Err(err("no_user"));
    }
    for u in &users {
        if *u == BOT_USER {
            return Err(err("cant_invite_self"));
        }
        if !known.contains(*u) {
            return Err(err("user_not_found"));
        }
        if c.members.contains(*u) {
            return Err(err("already_in_channel"));
        }
    }
    c.members.extend(users.iter().map(|u| (*u).to_owned()));
    Ok(json!({ "channel": channel_json(c) }))
}

/// docs.slack.dev/reference/methods/conversations.join: "Joins an existing conversation",
/// bot scope `channels:join`, `channel` an ID. "Errors": `channel_not_found`, `is_archived`,
/// `method_not_supported_for_channel_type` (a private channel, an IM). Joining a channel the
/// bot is already in succeeds with the warning `already_in_channel`.
pub(super) fn join(w: &mut Workspace, channel: &str) -> Result<Value, Answer> {
    w.need("channels:join")?;
    let c = w.by_id(channel)?;
    if c.private {
        return Err(err("method_not_supported_for_channel_type"));
    }
    if c.archived {
        return Err(err("is_archived"));
    }
    if c.members.contains(BOT_USER) {
        return Ok(json!({
            "channel": channel_json(c),
            "warning": "already_in_channel",
            "response_metadata": { "warnings": ["already_in_channel"] },
        }));
    }
    c.members.insert(BOT_USER.to_owned());
    Ok(json!({ "channel": channel_json(c) }))
}
