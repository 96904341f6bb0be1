//! Button custom ids, `klaxon:<action>[?]:<incident>[:<code>]`: written by `markdown` under
//! Klaxon's messages and read back by `interaction` when one is clicked.

use klaxon_commands::{Button, ButtonAction};

/// A button's custom id: `klaxon:<action>[?]:<incident>[:<code>]`; `?` asks first.
pub fn custom_id(button: &Button, ask_first: bool) -> String {
    let mut id = format!(
        "klaxon:{}{}:{}",
        button.action.as_str(),
        if ask_first { "?" } else { "" },
        button.incident
    );
    if let Some(code) = &button.code {
        id.push(':');
        id.push_str(code);
    }
    id
}

/// A parsed custom id: which button, on which incident, and whether to ask first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clicked {
    pub action: ButtonAction,
    pub ask_first: bool,
    pub incident: i64,
    pub code: Option<String>,
}

/// The click a custom id names; `None` for anything that is not a Klaxon button.
pub fn parse_custom_id(id: &str) -> Option<Clicked> {
    let mut parts = id.strip_prefix("klaxon:")?.splitn(3, ':');
    let action = parts.next()?;
    let (action, ask_first) = match action.strip_suffix('?') {
        Some(a) => (a, true),
        None => (action, false),
    };
    let action = ButtonAction::parse(action)?;
    let incident = parts.next()?.parse().ok()?;
    let code = parts.next().map(str::to_owned);
    Some(Clicked {
        action,
        ask_first,
        incident,
        code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip() {
        let b = Button {
            action: ButtonAction::Confirm,
            label: "Confirm".into(),
            incident: 7,
            danger: true,
            confirm: None,
            code: Some("K7Q2MX".into()),
        };
        assert_eq!(custom_id(&b, false), "klaxon:confirm:7:K7Q2MX");
        assert_eq!(
            parse_custom_id("klaxon:confirm:7:K7Q2MX"),
            Some(Clicked {
                action: ButtonAction::Confirm,
                ask_first: false,
                incident: 7,
                code: Some("K7Q2MX".into())
            })
        );
        assert_eq!(
            parse_custom_id("klaxon:resolve?:12").map(|c| (c.ask_first, c.incident)),
            Some((true, 12))
        );
        assert_eq!(parse_custom_id("klaxon:frob:1"), None);
        assert_eq!(parse_custom_id("klaxon:ack:x"), None);
        assert_eq!(parse_custom_id("other:ack:1"), None);
        let declare = Button {
            action: ButtonAction::Declare,
            label: "Declare incident".into(),
            incident: 0,
            danger: false,
            confirm: None,
            code: Some("42".into()),
        };
        assert_eq!(custom_id(&declare, false), "klaxon:declare:0:42");
        assert_eq!(
            parse_custom_id("klaxon:declare:0:42").map(|c| (c.action, c.code)),
            Some((ButtonAction::Declare, Some("42".into())))
        );
    }
}
