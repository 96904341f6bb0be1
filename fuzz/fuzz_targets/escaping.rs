//! Fuzzes escaping: user text rendered for Slack (mrkdwn, Block Kit) and Discord (content,
//! embed, topic) never forms a token that notifies anyone, and Discord allows no mention.
#![no_main]

use klaxon_commands::{Message, Rich};
use klaxon_discord::markdown;
use klaxon_slack::mrkdwn;
use libfuzzer_sys::fuzz_target;

/// Slack's notifying tokens: `<!…>` (channel, here, everyone, subteam) and `<@…>`
/// (api.slack.com/reference/surfaces/formatting#advanced); plain `@here` needs `link_names`.
fn slack_pings(text: &str) -> bool {
    text.contains("<!") || text.contains("<@") || text.contains("<#")
}

/// Discord's mention forms: `@everyone`, `@here`, `<@123>`, `<@!123>`, `<@&123>`
/// (discord.com/developers/docs/reference#message-formatting).
fn discord_pings(text: &str) -> bool {
    if text.contains("@everyone") || text.contains("@here") {
        return true;
    }
    text.match_indices("<@").any(|(at, _)| {
        let rest = &text[at + 2..];
        let rest = rest.strip_prefix(['!', '&']).unwrap_or(rest);
        rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

fuzz_target!(|text: &str| {
    let line = Rich::plain("Title: ").user_text(text.to_owned());
    let message = Message::new()
        .line(
            Rich::new()
                .strong("🔴 SEV1 · INC-1 · ")
                .user_text(text.to_owned()),
        )
        .line(line.clone())
        .field("Status", Rich::new().user_text(text.to_owned()));

    let slack_line = mrkdwn::line(&line);
    assert!(!slack_pings(&slack_line), "{text:?} → {slack_line:?}");
    let slack_text = mrkdwn::text(&message);
    assert!(!slack_pings(&slack_text), "{text:?} → {slack_text:?}");
    let blocks = serde_json::Value::Array(mrkdwn::blocks(&message)).to_string();
    assert!(!slack_pings(&blocks), "{text:?} → {blocks}");

    let rendered = markdown::render(&message);
    assert!(
        !discord_pings(&rendered.content),
        "{text:?} → {:?}",
        rendered.content
    );
    if let Some(embed) = &rendered.embed {
        let json = serde_json::to_string(embed).expect("the embed encodes");
        let shown: serde_json::Value = serde_json::from_str(&json).expect("json");
        let mut stack = vec![&shown];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) => assert!(!discord_pings(s), "{text:?} → {s:?}"),
                serde_json::Value::Array(a) => stack.extend(a),
                serde_json::Value::Object(o) => stack.extend(o.values()),
                _ => {}
            }
        }
    }
    assert_eq!(rendered.mentions, markdown::Mentions::default(), "{text:?}");
    let topic = markdown::plain(&Rich::new().user_text(text.to_owned()));
    assert!(!discord_pings(&topic), "{text:?} → {topic:?}");
});
