//! Rendering `Rich` lines and `Message`s as Slack mrkdwn and Block Kit, within Block Kit's
//! limits: derived text is cut on a character boundary with an ellipsis.

use klaxon_commands::{Message, Rich, Span};
use serde_json::{Value, json};

/// People's names by Slack user id, for showing a person without notifying them.
pub type Names = std::collections::HashMap<String, String>;

/// How `Span::Person` is shown: as `<@U…>` (a reply only the asker sees, which notifies
/// nobody) or, in posts, by name (`<@U…>` in a post notifies).
#[derive(Clone, Copy)]
enum People<'a> {
    Mentions,
    Named(&'a Names),
}

/// Escapes the three characters Slack treats as markup: `&`, `<`, `>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line as mrkdwn for a reply. Only operator-written mentions (escalation tiers) pass
/// through as typed; everything from users is escaped.
pub fn line(rich: &Rich) -> String {
    render(rich, People::Mentions)
}

/// One line as mrkdwn for a post: people by name (`names`, else the name Klaxon has); only
/// `Span::Ping` and operator mentions notify.
pub fn line_named(rich: &Rich, names: &Names) -> String {
    render(rich, People::Named(names))
}

fn render(rich: &Rich, people: People<'_>) -> String {
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
            Span::Person(u) if matches!(people, People::Named(_)) => {
                let name = match people {
                    People::Named(names) => names.get(&u.id).map(String::as_str),
                    People::Mentions => None,
                };
                out.push('@');
                out.push_str(&escape(name.unwrap_or(u.label())));
            }
            Span::Person(u) | Span::Ping(u) => {
                if is_user_id(&u.id) {
                    out.push_str(&format!("<@{}>", u.id));
                } else {
                    out.push('@');
                    out.push_str(&escape(u.label()));
                }
            }
            Span::Channel(c) => match &c.id {
                Some(id) if is_channel_id(id) => out.push_str(&format!("<#{id}>")),
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
pub fn is_user_id(id: &str) -> bool {
    id.len() > 1
        && id.starts_with(['U', 'W'])
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Slack channel id (`C…` or `G…`): anything else is shown as a name, so an id can never
/// close the link early and add a mention of its own.
fn is_channel_id(id: &str) -> bool {
    id.len() > 1
        && id.starts_with(['C', 'G'])
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// The plain-text fallback of a reply.
pub fn text(message: &Message) -> String {
    text_with(message, People::Mentions)
}

/// The plain-text fallback Slack shows in notifications, for a post.
pub fn text_named(message: &Message, names: &Names) -> String {
    text_with(message, People::Named(names))
}

/// Slack cuts message text at 40,000 characters (chat.postMessage, "Truncating content").
const MAX_TEXT: usize = 40_000;
/// chat.postMessage: at most 50 blocks a message.
const MAX_BLOCKS: usize = 50;

fn text_with(message: &Message, people: People<'_>) -> String {
    let mut lines: Vec<String> = message.lines.iter().map(|l| render(l, people)).collect();
    lines.extend(
        message
            .fields
            .iter()
            .map(|f| format!("{}: {}", escape(&f.label), render(&f.value, people))),
    );
    clip(&lines.join("\n"), MAX_TEXT)
}

/// Block Kit for a reply: the lines as one section, the fields as sections of fields.
pub fn blocks(message: &Message) -> Vec<Value> {
    blocks_with(message, People::Mentions)
}

/// Block Kit for a post.
pub fn blocks_named(message: &Message, names: &Names) -> Vec<Value> {
    blocks_with(message, People::Named(names))
}

fn blocks_with(message: &Message, people: People<'_>) -> Vec<Value> {
    let mut blocks = Vec::new();
    if !message.lines.is_empty() {
        let text: Vec<String> = message.lines.iter().map(|l| render(l, people)).collect();
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": clip(&text.join("\n"), 3000) }
        }));
    }
    // Slack allows ten fields per section, each up to 2000 characters; the buttons' row keeps
    // its place within the 50 blocks.
    let room = MAX_BLOCKS - blocks.len() - usize::from(!message.buttons.is_empty());
    for chunk in message.fields.chunks(10).take(room) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|f| json!({ "type": "mrkdwn", "text": clip(&format!("*{}*\n{}", escape(&f.label), render(&f.value, people)), 2000) }))
            .collect();
        blocks.push(json!({ "type": "section", "fields": fields }));
    }
    if !message.buttons.is_empty() {
        // An actions block holds at most 25 elements; a button's text at most 75 characters.
        let elements: Vec<Value> = message
            .buttons
            .iter()
            .take(25)
            .map(|b| {
                let mut e = json!({
                    "type": "button",
                    "action_id": crate::action_id::action_id(b.action),
                    "text": { "type": "plain_text", "text": clip(&b.label, 75) },
                    "value": match &b.code {
                        Some(code) => format!("{}:{code}", b.incident),
                        None => b.incident.to_string(),
                    },
                    "style": if b.danger { "danger" } else { "primary" },
                });
                // A confirmation dialog: title at most 100 characters, text 300, the two
                // buttons 30 each.
                if let Some(question) = &b.confirm {
                    e["confirm"] = json!({
                        "title": { "type": "plain_text", "text": "Are you sure?" },
                        "text": { "type": "mrkdwn", "text": clip(&escape(question), 300) },
                        "confirm": { "type": "plain_text", "text": clip(&b.label, 30) },
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

/// `s` cut to at most `max` characters, on a character boundary, ending with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
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
    fn people_in_posts_are_names_that_notify_nobody() {
        let alice = UserRef::named("U0ALICE", "alice");
        let r = Rich::new()
            .person(&alice)
            .text(" and ")
            .person(&UserRef::id("U0BOB"))
            .text(" paged ")
            .ping(&alice);
        let names = Names::from([("U0ALICE".to_owned(), "Alice <A>".to_owned())]);
        assert_eq!(
            line_named(&r, &names),
            "@Alice &lt;A&gt; and @U0BOB paged <@U0ALICE>"
        );
    }

    #[test]
    fn derived_text_stays_within_block_kit_limits() {
        let long = "é".repeat(5000);
        let mut m = Message::new().line(Rich::new().user_text(&long));
        for n in 0..600 {
            m = m.field(format!("f{n}"), Rich::new().user_text(&long));
        }
        for _ in 0..30 {
            m = m.button(klaxon_commands::Button {
                action: klaxon_commands::ButtonAction::Resolve,
                label: "R".repeat(120),
                incident: 1,
                danger: true,
                confirm: Some("?".repeat(400)),
                code: None,
            });
        }
        let b = blocks(&m);
        assert_eq!(b.len(), 50);
        let section = b[0]["text"]["text"].as_str().expect("text");
        assert_eq!(section.chars().count(), 3000);
        assert!(section.ends_with('…'));
        assert!(
            b[1]["fields"][0]["text"]
                .as_str()
                .expect("field")
                .chars()
                .count()
                <= 2000
        );
        let buttons = b[49]["elements"].as_array().expect("buttons");
        assert_eq!(buttons.len(), 25);
        assert_eq!(
            buttons[0]["text"]["text"]
                .as_str()
                .map(|t| t.chars().count()),
            Some(75)
        );
        let confirm = &buttons[0]["confirm"];
        assert_eq!(
            confirm["text"]["text"].as_str().map(|t| t.chars().count()),
            Some(300)
        );
        assert_eq!(
            confirm["confirm"]["text"]
                .as_str()
                .map(|t| t.chars().count()),
            Some(30)
        );
        assert!(text(&m).chars().count() <= 40_000);
    }

    #[test]
    fn a_channel_id_that_is_not_one_shows_as_a_name() {
        // Found by the property tests: an id is put inside `<#…>` only when it is one.
        let r = Rich::new().channel(&ChannelRef::new("C1><!channel", "inc-x"));
        assert_eq!(line(&r), "#inc-x");
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
