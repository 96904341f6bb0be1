//! Interactions, from `POST /slack/interactions` or a Socket Mode `interactive` envelope; both
//! carry the same JSON: button clicks (`block_actions`), the "Declare incident" shortcut and
//! form submissions (`view_submission`).

use klaxon_commands::{
    ButtonAction, ChannelRef, Command, Handler, Input, Invocation, PlatformKind, ReplyKind, Tenant,
    UserRef,
};
use serde_json::Value;

use crate::SlackApi;
use crate::action_id::{action_id, parse_action_id};
use crate::modal::{self, Origin, Submission};

/// Handles one interaction; the answer's body, or `None` for an empty acknowledgement.
/// `oncall` is what the declare form's on-call field offers ([`crate::Edge::oncall`]).
pub async fn handle(
    payload: &Value,
    handler: &dyn Handler,
    api: &SlackApi,
    oncall: &[String],
) -> Option<Value> {
    match payload["type"].as_str() {
        Some("shortcut") if payload["callback_id"] == modal::DECLARE => {
            let trigger = payload["trigger_id"].as_str()?;
            if let Err(e) = api
                .open_view(trigger, modal::declare_view(&Origin::default(), oncall))
                .await
            {
                tracing::warn!(error = %e, "could not open the declare form");
            }
            None
        }
        Some("block_actions") => {
            let action = &payload["actions"][0];
            if action["action_id"] == action_id(ButtonAction::Update) {
                let number: i64 = action["value"].as_str()?.parse().ok()?;
                let trigger = payload["trigger_id"].as_str()?;
                let origin = Origin {
                    channel_id: payload["channel"]["id"].as_str().map(str::to_owned),
                    channel_name: payload["channel"]["name"].as_str().map(str::to_owned),
                    incident: Some(number),
                };
                let view = modal::update_view(&origin, &format!("INC-{number}"));
                if let Err(e) = api.open_view(trigger, view).await {
                    tracing::warn!(error = %e, "could not open the update form");
                }
                return None;
            }
            let invocation = invocation(payload)?;
            let reply = handler.handle(invocation).await;
            // A click shows nothing by itself: the reply reaches the person who clicked, a
            // refusal (not allowed, expired, already resolved) included.
            let text = crate::mrkdwn::text(&reply.message);
            let text = match reply.kind {
                ReplyKind::Ok => text,
                ReplyKind::UserError | ReplyKind::InternalError => {
                    tracing::info!(reply = %reply.to_plain(), "button refused");
                    format!(":warning: {text}")
                }
            };
            match payload["response_url"].as_str() {
                Some(url) => {
                    if let Err(e) = api.respond(url, &text).await {
                        tracing::warn!(error = %e, "could not answer a button click");
                    }
                }
                None => {
                    tracing::warn!("a button click without a response_url: its answer is not shown")
                }
            }
            None
        }
        Some("view_submission") => match modal::submission(payload)? {
            Submission::Invalid { field, error } => Some(modal::errors(field, &error)),
            Submission::Run { invocation, field } => {
                let reply = handler.handle(*invocation).await;
                Some(modal::response(&reply, field))
            }
        },
        _ => None,
    }
}

/// The command a click means, on the incident its button names; `None` for anything that is
/// not a Klaxon button.
pub fn invocation(payload: &Value) -> Option<Invocation> {
    if payload["type"] != "block_actions" {
        return None;
    }
    let action = &payload["actions"][0];
    let button = action["action_id"].as_str().and_then(parse_action_id)?;
    let value = action["value"].as_str()?;
    let (number, code) = match value.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (value, None),
    };
    let incident: i64 = number.parse().ok()?;
    let team = payload["team"]["id"].as_str()?;
    let user_id = payload["user"]["id"].as_str()?;
    let user = match payload["user"]["username"]
        .as_str()
        .or(payload["user"]["name"].as_str())
    {
        Some(name) => UserRef::named(user_id, name),
        None => UserRef::id(user_id),
    };
    let channel_id = payload["channel"]["id"].as_str().unwrap_or_default();
    let channel_name = payload["channel"]["name"].as_str().unwrap_or(channel_id);
    let command = match button {
        ButtonAction::Declare => {
            return Some(Invocation {
                tenant: Tenant::new(PlatformKind::Slack, team),
                channel: ChannelRef::new(channel_id, channel_name),
                user,
                input: Input::DeclareAlert {
                    alert: code?.parse().ok()?,
                },
                incident: None,
                delivery_id: payload["trigger_id"].as_str().map(str::to_owned),
            });
        }
        ButtonAction::Ack => Command::Ack,
        ButtonAction::Resolve => Command::Resolve { summary: None },
        ButtonAction::Confirm => Command::Confirm {
            code: code?.to_ascii_uppercase(),
        },
        // Post update asks for the text in a form first (see `handle`).
        ButtonAction::Update => return None,
    };
    Some(Invocation {
        tenant: Tenant::new(PlatformKind::Slack, team),
        channel: ChannelRef::new(channel_id, channel_name),
        user,
        input: Input::Command(command),
        incident: Some(incident),
        delivery_id: payload["trigger_id"].as_str().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_become_commands_on_their_incident() {
        let payload = serde_json::json!({
            "type": "block_actions",
            "team": { "id": "T0TEAM" },
            "user": { "id": "U0BOB", "username": "bob" },
            "channel": { "id": "C0PAGING", "name": "incidents" },
            "trigger_id": "t-1",
            "actions": [{ "action_id": "klaxon.resolve", "value": "7", "type": "button" }]
        });
        let inv = invocation(&payload).expect("a Klaxon button");
        assert_eq!(
            inv.input,
            Input::Command(Command::Resolve { summary: None })
        );
        assert_eq!(inv.incident, Some(7));
        assert_eq!(inv.user, UserRef::named("U0BOB", "bob"));
        let mut other = payload.clone();
        other["actions"][0]["action_id"] = "someone.else".into();
        assert!(invocation(&other).is_none());
        other["actions"][0]["action_id"] = "klaxon.ack".into();
        other["actions"][0]["value"] = "seven".into();
        assert!(invocation(&other).is_none());
        other["actions"][0]["action_id"] = "klaxon.confirm".into();
        other["actions"][0]["value"] = "7:k7q2mx".into();
        let confirm = invocation(&other).expect("a confirm button");
        assert_eq!(
            confirm.input,
            Input::Command(Command::Confirm {
                code: "K7Q2MX".into()
            })
        );
        assert_eq!(confirm.incident, Some(7));
        other["actions"][0]["value"] = "7".into();
        assert!(
            invocation(&other).is_none(),
            "a confirm button without its code does nothing"
        );
        other["actions"][0]["action_id"] = "klaxon.declare".into();
        other["actions"][0]["value"] = "0:42".into();
        let declare = invocation(&other).expect("a declare button");
        assert_eq!(declare.input, Input::DeclareAlert { alert: 42 });
        assert_eq!(declare.incident, None);
        other["actions"][0]["value"] = "0:x".into();
        assert!(invocation(&other).is_none());
    }
}
