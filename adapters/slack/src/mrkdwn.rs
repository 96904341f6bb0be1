//! Rendering `Rich` lines and `Message`s as Slack mrkdwn and Block Kit.

use klaxon_commands::{Message, Rich, Span};
use serde_json::{Value, json};

/// Escapes the three characters Slack treats as markup: `&`, `<`, `>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line as mrkdwn. Only operator-written mentions (escalation tiers) pass through as typed;
/// everything from users is escaped.
pub fn line(rich: &Rich) -> String {
    let mut out = String::new();
    for span in &rich.0 {
        match span {
            Span::Plain(t) => out.push_str(&escape(t)),
            Span::Strong(t) => {
                let t = t.trim_end();
                if !t.is_empty() {
                    out.push('*');
                    out.push_str(&escape(t));
                    out.push('*');
                }
                out.push(' ');
            }
            Span::User(t) => out.push_str(&escape(t)),
            Span::Person(u) | Span::Ping(u) => {
                if is_user_id(&u.id) {
                    out.push_str(&format!("<@{}>", u.id));
                } else {
                    out.push('@');
                    out.push_str(&escape(u.label()));
                }
            }
            Span::Channel(c) => match &c.id {
                Some(id) if id.starts_with(['C', 'G']) => out.push_str(&format!("<#{id}>")),
                _ => {
                    out.push('#');
                    out.push_str(&escape(&c.name));
                }
            },
            Span::Mention(m) => out.push_str(m),
        }
    }
    out
}

/// A Slack user id (`U…` or `W…`): anything else is shown as a name.
fn is_user_id(id: &str) -> bool {
    id.len() > 1
        && id.starts_with(['U', 'W'])
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The plain-text fallback Slack shows in notifications.
pub fn text(message: &Message) -> String {
    let mut lines: Vec<String> = message.lines.iter().map(line).collect();
    lines.extend(
        message
            .fields
            .iter()
            .map(|f| format!("{}: {}", escape(&f.label), line(&f.value))),
    );
    lines.join("\n")
}

/// Block Kit: the lines as one section, the fields as a section of fields.
pub fn blocks(message: &Message) -> Vec<Value> {
    let mut blocks = Vec::new();
    if !message.lines.is_empty() {
        let text: Vec<String> = message.lines.iter().map(line).collect();
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": clip(&text.join("\n"), 3000) }
        }));
    }
    // Slack allows ten fields per section, each up to 2000 characters.
    for chunk in message.fields.chunks(10) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|f| json!({ "type": "mrkdwn", "text": clip(&format!("*{}*\n{}", escape(&f.label), line(&f.value)), 2000) }))
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    if !message.buttons.is_empty() {
        let elements: Vec<Value> = message
            .buttons
            .iter()
            .map(|b| {
                let mut e = json!({
                    "type": "button",
                    "action_id": crate::interaction::action_id(b.action),
                    "text": { "type": "plain_text", "text": b.label },
                    "value": match &b.code {
                        Some(code) => format!("{}:{code}", b.incident),
                        None => b.incident.to_string(),
                    },
                    "style": if b.danger { "danger" } else { "primary" },
                });
                if let Some(question) = &b.confirm {
                    e["confirm"] = json!({
                        "title": { "type": "plain_text", "text": "Are you sure?" },
                        "text": { "type": "mrkdwn", "text": escape(question) },
                        "confirm": { "type": "plain_text", "text": b.label },
                        "deny": { "type": "plain_text", "text": "Cancel" },
                    });
                }
                e
            })
            .collect();
        blocks.push(json!({ "type": "actions", "elements": elements }));
    }
    blocks
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_commands::{ChannelRef, UserRef};

    #[test]
    fn user_text_is_escaped_and_never_pings() {
        let r = Rich::plain("Title: ").user_text("@everyone <!channel> <@U123> a&b **x**");
        assert_eq!(
            line(&r),
            "Title: @everyone &lt;!channel&gt; &lt;@U123&gt; a&amp;b **x**"
        );
    }

    #[test]
    fn people_channels_and_mentions() {
        let r = Rich::new()
            .person(&UserRef::named("U0ALICE", "alice"))
            .text(" ")
            .person(&UserRef::named("bob", "bob"))
            .text(" in ")
            .channel(&ChannelRef::new("C0INC", "inc-x"))
            .text(" and ")
            .channel(&ChannelRef::planned("inc-y"))
            .text(" pages ")
            .mention("<!subteam^S0ONCALL>");
        assert_eq!(
            line(&r),
            "<@U0ALICE> @bob in <#C0INC> and #inc-y pages <!subteam^S0ONCALL>"
        );
    }

    #[test]
    fn a_declare_button_carries_its_alert() {
        let m = Message::new().button(klaxon_commands::Button {
            action: klaxon_commands::ButtonAction::Declare,
            label: "Declare incident".into(),
            incident: 0,
            danger: false,
            confirm: None,
            code: Some("42".into()),
        });
        let b = blocks(&m);
        assert_eq!(b[0]["elements"][0]["action_id"], "klaxon.declare");
        assert_eq!(b[0]["elements"][0]["value"], "0:42");
    }

    #[test]
    fn blocks_have_a_section_and_fields() {
        let m = Message::new()
            .line(Rich::new().strong("🔴 SEV1 · INC-1 · ").user_text("<b>"))
            .field("Status", Rich::plain("triage"));
        let b = blocks(&m);
        assert_eq!(b[0]["text"]["text"], "*🔴 SEV1 · INC-1 ·* &lt;b&gt;");
        assert_eq!(b[1]["fields"][0]["text"], "*Status*\ntriage");
        assert_eq!(text(&m), "*🔴 SEV1 · INC-1 ·* &lt;b&gt;\nStatus: triage");
    }
}
