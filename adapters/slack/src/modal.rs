//! Modals: the declare form (opened by `/inc` with no text and by the "Declare incident"
//! shortcut) and the Post update form (opened by the button under the pinned summary).
//!
//! A submission becomes the same `Command` as the typed text and goes through the engine; a
//! refusal is shown on the form's field (`response_action: errors`), a success replaces the
//! form with the reply. One opened form is one delivery (`view:<view id>`), so submitting it
//! twice has one effect.

use klaxon_commands::{
    ChannelRef, Command, Input, Invocation, PlatformKind, Reply, ReplyKind, ScheduleRef, Severity,
    Tenant, Text, Title, UserRef,
};
use serde_json::{Value, json};

/// The callback id of the declare form, and of the global shortcut that opens it.
pub const DECLARE: &str = "klaxon.declare";
/// The callback id of the Post update form.
pub const UPDATE: &str = "klaxon.update";

/// Where a form was opened: the channel (when there is one) and, for Post update, the incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<i64>,
}

fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text })
}

/// The most options a static select holds (docs.slack.dev/reference/block-kit/block-elements/
/// select-menu-element: "Maximum number of options is 100").
pub const MAX_OPTIONS: usize = 100;
/// An option's `text` and `value` limits (docs.slack.dev/reference/block-kit/
/// composition-objects/option-object: 75 and 150 characters).
const OPTION_TEXT: usize = 75;
const OPTION_VALUE: usize = 150;

/// The declare form: title, severity (optional: the configured default), private or not and,
/// when there are schedules, whose on-call person to page (`oncall`: `schedule/layer` names, as
/// the bot hands them over; the first [`MAX_OPTIONS`] are offered).
pub fn declare_view(origin: &Origin, oncall: &[String]) -> Value {
    let option = |s: Severity| {
        let value = s.to_string().to_ascii_lowercase();
        json!({ "text": plain(&s.to_string()), "value": value })
    };
    let mut view = json!({
        "type": "modal",
        "callback_id": DECLARE,
        "title": plain("Declare incident"),
        "submit": plain("Declare"),
        "close": plain("Cancel"),
        "private_metadata": serde_json::to_string(origin).unwrap_or_default(),
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": plain("Title"),
                "hint": plain("What is broken, in a few words"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "title",
                    "max_length": klaxon_commands::values::MAX_TITLE_CHARS,
                    "placeholder": plain("Checkout API returning 500s"),
                }
            },
            {
                "type": "input",
                "block_id": "severity",
                "optional": true,
                "label": plain("Severity"),
                "hint": plain("SEV1 is the worst; left empty, the configured default"),
                "element": {
                    "type": "static_select",
                    "action_id": "severity",
                    "placeholder": plain("Default severity"),
                    "options": Severity::ALL.map(option),
                }
            },
            {
                "type": "input",
                "block_id": "private",
                "optional": true,
                "label": plain("Visibility"),
                "element": {
                    "type": "checkboxes",
                    "action_id": "private",
                    "options": [{
                        "text": plain("Private incident"),
                        "description": plain("A private channel; the paging channel sees no title"),
                        "value": "private",
                    }],
                }
            }
        ]
    });
    let choices: Vec<Value> = oncall
        .iter()
        .filter(|name| {
            let n = name.chars().count();
            (1..=OPTION_TEXT.min(OPTION_VALUE)).contains(&n)
        })
        .take(MAX_OPTIONS)
        .map(|name| json!({ "text": plain(name), "value": name }))
        .collect();
    if let (false, Some(blocks)) = (choices.is_empty(), view["blocks"].as_array_mut()) {
        blocks.push(json!({
            "type": "input",
            "block_id": "oncall",
            "optional": true,
            "label": plain("Page whoever is on call"),
            "hint": plain("Invited to the new channel and pinged there at once"),
            "element": {
                "type": "static_select",
                "action_id": "oncall",
                "placeholder": plain("Nobody"),
                "options": choices,
            }
        }));
    }
    view
}

/// The Post update form of one incident.
pub fn update_view(origin: &Origin, key: &str) -> Value {
    json!({
        "type": "modal",
        "callback_id": UPDATE,
        "title": plain("Post update"),
        "submit": plain("Post"),
        "close": plain("Cancel"),
        "private_metadata": serde_json::to_string(origin).unwrap_or_default(),
        "blocks": [{
            "type": "input",
            "block_id": "text",
            "label": plain(&format!("Status update for {key}")),
            "element": {
                "type": "plain_text_input",
                "action_id": "text",
                "multiline": true,
                "max_length": klaxon_commands::values::MAX_TEXT_CHARS,
            }
        }]
    })
}

/// What a `view_submission` of one of Klaxon's forms asks for.
#[derive(Debug)]
pub enum Submission {
    /// The command to run; a refusal is shown on `field`.
    Run {
        invocation: Box<Invocation>,
        field: &'static str,
    },
    /// The form's input is refused before the engine sees it: (field, message).
    Invalid { field: &'static str, error: String },
}

/// Reads a `view_submission` payload; `None` for anything that is not one of Klaxon's forms.
pub fn submission(payload: &Value) -> Option<Submission> {
    if payload["type"] != "view_submission" {
        return None;
    }
    let view = &payload["view"];
    let callback = view["callback_id"].as_str()?;
    let team = payload["team"]["id"].as_str()?;
    let user_id = payload["user"]["id"].as_str()?;
    let user = match payload["user"]["username"]
        .as_str()
        .or(payload["user"]["name"].as_str())
    {
        Some(name) => UserRef::named(user_id, name),
        None => UserRef::id(user_id),
    };
    let origin: Origin = view["private_metadata"]
        .as_str()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let channel = match (&origin.channel_id, &origin.channel_name) {
        (Some(id), name) => ChannelRef::new(id, name.as_deref().unwrap_or(id)),
        (None, _) => ChannelRef::planned("declare-shortcut"),
    };
    let values = &view["state"]["values"];
    let value = |block: &str| values[block][block]["value"].as_str().unwrap_or_default();
    let (command, field) = match callback {
        DECLARE => {
            let title = match Title::parse(value("title")) {
                Ok(t) => t,
                Err(e) => return Some(invalid("title", &e)),
            };
            let severity = values["severity"]["severity"]["selected_option"]["value"]
                .as_str()
                .and_then(Severity::from_word);
            let private = values["private"]["private"]["selected_options"]
                .as_array()
                .is_some_and(|o| o.iter().any(|o| o["value"] == "private"));
            // The same schedule reference `--oncall` takes.
            let oncall = match values["oncall"]["oncall"]["selected_option"]["value"].as_str() {
                Some(name) => match ScheduleRef::parse(name) {
                    Ok(r) => Some(r),
                    Err(e) => return Some(invalid("oncall", &e)),
                },
                None => None,
            };
            (
                Command::Declare {
                    severity,
                    title,
                    private,
                    oncall,
                },
                "title",
            )
        }
        UPDATE => {
            origin.incident?;
            match Text::parse(value("text"), "the update", "Rolled back deploy 1234") {
                Ok(text) => (Command::Update { text }, "text"),
                Err(e) => return Some(invalid("text", &e)),
            }
        }
        _ => return None,
    };
    let view_id = view["id"].as_str()?;
    Some(Submission::Run {
        invocation: Box::new(Invocation {
            tenant: Tenant::new(PlatformKind::Slack, team),
            channel,
            user,
            input: Input::Command(command),
            incident: origin.incident,
            // One opened form is one delivery, however often it is submitted.
            delivery_id: Some(format!("view:{view_id}")),
        }),
        field,
    })
}

fn invalid(field: &'static str, e: &klaxon_commands::UserError) -> Submission {
    Submission::Invalid {
        field,
        error: e.text().to_owned(),
    }
}

/// The answer to a submission: the refusal on its field, or the form replaced by the reply.
pub fn response(reply: &Reply, field: &'static str) -> Value {
    // A section's text is at most 3000 characters.
    let text = crate::mrkdwn::clip(&crate::mrkdwn::text(&reply.message), 3000);
    match reply.kind {
        ReplyKind::Ok => json!({
            "response_action": "update",
            "view": {
                "type": "modal",
                "title": plain("Klaxon"),
                "close": plain("Close"),
                "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": text } }],
            }
        }),
        ReplyKind::UserError | ReplyKind::InternalError => errors(field, &reply.to_plain()),
    }
}

/// `response_action: errors` with one message on one field.
pub fn errors(field: &str, message: &str) -> Value {
    // Slack shows at most a short message under the field.
    let message: String = message.chars().take(500).collect();
    json!({ "response_action": "errors", "errors": { field: message } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use slack_morphism::prelude::*;

    fn submitted(view: Value, values: Value) -> Value {
        let mut view = view;
        view["id"] = "V0FORM".into();
        view["state"] = json!({ "values": values });
        json!({
            "type": "view_submission",
            "team": { "id": "T0TEAM", "domain": "acme" },
            "user": { "id": "U0ALICE", "username": "alice", "team_id": "T0TEAM" },
            "view": view,
        })
    }

    #[test]
    fn the_forms_are_valid_views() {
        for view in [
            declare_view(&Origin::default(), &[]),
            update_view(
                &Origin {
                    incident: Some(3),
                    ..Origin::default()
                },
                "INC-3",
            ),
        ] {
            let parsed: Result<SlackView, _> = serde_json::from_value(view.clone());
            assert!(parsed.is_ok(), "{parsed:?}\n{view}");
        }
    }

    #[test]
    fn a_declare_submission_is_the_declare_command() {
        let origin = Origin {
            channel_id: Some("C0GEN".into()),
            channel_name: Some("general".into()),
            incident: None,
        };
        let payload = submitted(
            declare_view(&origin, &[]),
            json!({
                "title": { "title": { "type": "plain_text_input", "value": "<!channel> DB down" } },
                "severity": { "severity": { "type": "static_select",
                    "selected_option": { "text": { "type": "plain_text", "text": "SEV1" }, "value": "sev1" } } },
                "private": { "private": { "type": "checkboxes",
                    "selected_options": [{ "text": { "type": "plain_text", "text": "Private incident" }, "value": "private" }] } },
            }),
        );
        let Some(Submission::Run { invocation, field }) = submission(&payload) else {
            panic!("a declare");
        };
        assert_eq!(field, "title");
        assert_eq!(
            invocation.input,
            Input::Command(Command::Declare {
                severity: Some(Severity::Sev1),
                title: Title::parse("<!channel> DB down").expect("title"),
                private: true,
                oncall: None,
            })
        );
        assert_eq!(invocation.channel, ChannelRef::new("C0GEN", "general"));
        assert_eq!(invocation.delivery_id.as_deref(), Some("view:V0FORM"));

        // Nothing chosen: the default severity, not private; an empty title is refused.
        let bare = submitted(
            declare_view(&Origin::default(), &[]),
            json!({
                "title": { "title": { "type": "plain_text_input", "value": "Search slow" } },
                "severity": { "severity": { "type": "static_select", "selected_option": null } },
                "private": { "private": { "type": "checkboxes", "selected_options": [] } },
            }),
        );
        let Some(Submission::Run { invocation, .. }) = submission(&bare) else {
            panic!("a declare");
        };
        assert_eq!(
            invocation.input,
            Input::Command(Command::Declare {
                severity: None,
                title: Title::parse("Search slow").expect("title"),
                private: false,
                oncall: None,
            })
        );
        let empty = submitted(
            declare_view(&Origin::default(), &[]),
            json!({ "title": { "title": { "type": "plain_text_input", "value": "  " } } }),
        );
        assert!(matches!(
            submission(&empty),
            Some(Submission::Invalid { field: "title", .. })
        ));
    }

    #[test]
    fn the_oncall_field_offers_the_schedules_within_slacks_limits_and_sets_the_declares_oncall() {
        assert!(
            declare_view(&Origin::default(), &[])["blocks"]
                .as_array()
                .is_some_and(|b| b.iter().all(|b| b["block_id"] != "oncall")),
            "no schedules, no field"
        );
        let many: Vec<String> = (0..150).map(|n| format!("team{n}/primary")).collect();
        let view = declare_view(&Origin::default(), &many);
        let parsed: Result<SlackView, _> = serde_json::from_value(view.clone());
        assert!(parsed.is_ok(), "{parsed:?}");
        let field = view["blocks"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["block_id"] == "oncall"))
            .expect("the on-call field");
        let options = field["element"]["options"].as_array().expect("options");
        assert_eq!(options.len(), MAX_OPTIONS);
        assert_eq!(options[0]["value"], "team0/primary");
        let payload = submitted(
            declare_view(&Origin::default(), &["payments/secondary".to_owned()]),
            json!({
                "title": { "title": { "type": "plain_text_input", "value": "Checkout slow" } },
                "oncall": { "oncall": { "type": "static_select",
                    "selected_option": { "text": { "type": "plain_text", "text": "payments/secondary" }, "value": "payments/secondary" } } },
            }),
        );
        let Some(Submission::Run { invocation, .. }) = submission(&payload) else {
            panic!("a declare");
        };
        assert_eq!(
            invocation.input,
            Input::Command(Command::Declare {
                severity: None,
                title: Title::parse("Checkout slow").expect("title"),
                private: false,
                oncall: Some(ScheduleRef::parse("payments/secondary").expect("schedule")),
            })
        );
        let mut bad = payload.clone();
        bad["view"]["state"]["values"]["oncall"]["oncall"]["selected_option"]["value"] =
            "Not A Schedule!".into();
        assert!(matches!(
            submission(&bad),
            Some(Submission::Invalid {
                field: "oncall",
                ..
            })
        ));
    }

    #[test]
    fn an_update_submission_names_its_incident() {
        let origin = Origin {
            incident: Some(4),
            ..Origin::default()
        };
        let payload = submitted(
            update_view(&origin, "INC-4"),
            json!({ "text": { "text": { "type": "plain_text_input", "value": "Rolled back" } } }),
        );
        let Some(Submission::Run { invocation, field }) = submission(&payload) else {
            panic!("an update");
        };
        assert_eq!(field, "text");
        assert_eq!(invocation.incident, Some(4));
        assert_eq!(
            invocation.input,
            Input::Command(Command::Update {
                text: Text::parse("Rolled back", "", "").expect("text")
            })
        );
        let bell = submitted(
            update_view(&origin, "INC-4"),
            json!({ "text": { "text": { "type": "plain_text_input", "value": "bell\u{7}" } } }),
        );
        assert!(matches!(
            submission(&bell),
            Some(Submission::Invalid { field: "text", .. })
        ));
        let mut other = payload.clone();
        other["view"]["callback_id"] = "someone.else".into();
        assert!(submission(&other).is_none());
    }
}
