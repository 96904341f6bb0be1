//! Rendering `Rich` lines and `Message`s as Discord markdown, embeds and buttons, with the
//! allowed mentions each message must carry.
//!
//! User text is escaped for Discord markdown, mentions in it are broken with a zero-width
//! space, and every message says exactly whom it may notify: only `Ping` spans and the
//! operator's configured mentions (a role for SEV1, escalation tiers). `@everyone` and `@here`
//! are never allowed, whatever the text says.

use klaxon_commands::{Button, Message, Rich, Span};
use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, RoleId, UserId,
};

/// Discord's limits (characters).
pub const CONTENT_LIMIT: usize = 2000;
const DESCRIPTION_LIMIT: usize = 4096;
const FIELD_NAME_LIMIT: usize = 256;
const FIELD_VALUE_LIMIT: usize = 1024;
const MAX_FIELDS: usize = 25;
const MAX_BUTTONS_PER_ROW: usize = 5;

/// Escapes Discord markdown and breaks mass mentions, so user text shows as typed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    for c in text.chars() {
        let markup = matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '[' | ']'
        ) || (line_start && matches!(c, '-' | '+'));
        if markup {
            out.push('\\');
        }
        line_start = c == '\n' || (line_start && c == ' ');
        out.push(c);
        if c == '@' {
            // `@everyone`, `@here` and `<@…>` never form.
            out.push('\u{200B}');
        }
    }
    out
}

/// A Discord snowflake (a user, channel or role id).
pub fn is_snowflake(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Who a rendered message may notify.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mentions {
    pub users: Vec<u64>,
    pub roles: Vec<u64>,
}

impl Mentions {
    /// Discord's allowed mentions: these users and roles, never `@everyone`/`@here`.
    pub fn allowed(&self) -> CreateAllowedMentions {
        CreateAllowedMentions::new()
            .everyone(false)
            .all_users(false)
            .all_roles(false)
            .users(self.users.iter().map(|id| UserId::new(*id)))
            .roles(self.roles.iter().map(|id| RoleId::new(*id)))
            .replied_user(false)
    }

    fn user(&mut self, id: &str) {
        if let Ok(id) = id.parse::<u64>()
            && id != 0
            && !self.users.contains(&id)
        {
            self.users.push(id);
        }
    }

    fn role(&mut self, id: &str) {
        if let Ok(id) = id.parse::<u64>()
            && id != 0
            && !self.roles.contains(&id)
        {
            self.roles.push(id);
        }
    }

    /// An operator-written mention: `<@123>`, `<@!123>` or `<@&456>`.
    fn operator(&mut self, mention: &str) {
        let Some(inner) = mention.strip_prefix("<@").and_then(|m| m.strip_suffix('>')) else {
            return;
        };
        match inner.strip_prefix('&') {
            Some(role) => self.role(role),
            None => self.user(inner.strip_prefix('!').unwrap_or(inner)),
        }
    }
}

/// One line as Discord markdown, noting whom it notifies.
pub fn line(rich: &Rich, mentions: &mut Mentions) -> String {
    let mut out = String::new();
    for span in &rich.0 {
        match span {
            Span::Plain(t) => out.push_str(&escape(t)),
            Span::Strong(t) => {
                // Markdown emphasis must not end in a space: it moves outside the stars.
                let trimmed = t.trim_end();
                if !trimmed.is_empty() {
                    out.push_str("**");
                    out.push_str(&escape(trimmed));
                    out.push_str("**");
                }
                if trimmed.len() != t.len() {
                    out.push(' ');
                }
            }
            Span::User(t) => out.push_str(&escape(t)),
            Span::Person(u) => person(&mut out, u),
            Span::Ping(u) => {
                person(&mut out, u);
                if is_snowflake(&u.id) {
                    mentions.user(&u.id);
                }
            }
            Span::Channel(c) => match &c.id {
                Some(id) if is_snowflake(id) => out.push_str(&format!("<#{id}>")),
                _ => {
                    out.push('#');
                    out.push_str(&escape(&c.name));
                }
            },
            Span::Mention(m) => {
                mentions.operator(m);
                out.push_str(m);
            }
        }
    }
    out
}

fn person(out: &mut String, u: &klaxon_commands::UserRef) {
    if is_snowflake(&u.id) {
        out.push_str(&format!("<@{}>", u.id));
    } else {
        out.push('@');
        out.push('\u{200B}');
        out.push_str(&escape(u.label()));
    }
}

/// Plain text for places without markdown (a channel topic): no markup, mentions broken.
pub fn plain(rich: &Rich) -> String {
    rich.to_plain().replace('@', "@\u{200B}")
}

/// A message, ready for Discord.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub content: String,
    pub embed: Option<CreateEmbed>,
    pub buttons: Vec<CreateActionRow>,
    pub mentions: Mentions,
}

/// The colour of an announcement, from the badge its headline starts with.
fn colour(message: &Message) -> u32 {
    let first = message
        .lines
        .first()
        .map(Rich::to_plain)
        .unwrap_or_default();
    match first.chars().next() {
        Some('🔴') => 0x00D7_263D,
        Some('🟠') => 0x00F4_6D00,
        Some('🟡') => 0x00F2_C14E,
        Some('🔵') => 0x0024_7BA0,
        Some('✅') => 0x002E_A043,
        _ => 0x0099_AAB5,
    }
}

/// A message without fields is plain content; one with fields (an announcement, a summary) is
/// an embed. Lines that notify someone stay in the content, because mentions inside an embed
/// never notify.
pub fn render(message: &Message) -> Rendered {
    let mut mentions = Mentions::default();
    let mut content = Vec::new();
    let mut description = Vec::new();
    for rich in &message.lines {
        let notifies = rich
            .0
            .iter()
            .any(|s| matches!(s, Span::Ping(_) | Span::Mention(_)));
        let text = line(rich, &mut mentions);
        if message.fields.is_empty() || notifies {
            content.push(text);
        } else {
            description.push(text);
        }
    }
    let embed = (!message.fields.is_empty()).then(|| {
        let mut embed = CreateEmbed::new().colour(colour(message));
        if !description.is_empty() {
            embed = embed.description(clip(&description.join("\n"), DESCRIPTION_LIMIT));
        }
        let mut ignored = Mentions::default();
        embed.fields(message.fields.iter().take(MAX_FIELDS).map(|f| {
            let value = line(&f.value, &mut ignored);
            (
                clip(&f.label, FIELD_NAME_LIMIT),
                clip(
                    if value.is_empty() { "—" } else { &value },
                    FIELD_VALUE_LIMIT,
                ),
                true,
            )
        }))
    });
    Rendered {
        content: clip(&content.join("\n"), CONTENT_LIMIT),
        embed,
        buttons: buttons(&message.buttons),
        mentions,
    }
}

/// Klaxon's buttons as action rows. A button that asks "are you sure?" first (Discord has no
/// confirmation dialog) carries `?` in its id; the question comes as an ephemeral reply.
pub fn buttons(buttons: &[Button]) -> Vec<CreateActionRow> {
    buttons
        .chunks(MAX_BUTTONS_PER_ROW)
        .map(|row| {
            CreateActionRow::Buttons(
                row.iter()
                    .map(|b| {
                        CreateButton::new(crate::custom_id::custom_id(b, b.confirm.is_some()))
                            .label(clip(&b.label, 80))
                            .style(if b.danger {
                                ButtonStyle::Danger
                            } else {
                                ButtonStyle::Primary
                            })
                    })
                    .collect(),
            )
        })
        .collect()
}

/// At most `max` characters, with an ellipsis when cut.
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
    use klaxon_commands::{ButtonAction, ChannelRef, UserRef};
    use serde_json::json;

    #[test]
    fn user_text_is_escaped_and_never_pings() {
        let mut m = Mentions::default();
        let r = Rich::plain("Title: ").user_text("@everyone @here <@123> <@&9> **x** `y`");
        let out = line(&r, &mut m);
        assert!(!out.contains("@everyone"));
        assert!(!out.contains("@here"));
        assert!(!out.contains("<@123>"));
        assert!(!out.contains("**x**"));
        assert_eq!(m, Mentions::default());
        assert_eq!(
            escape("a*b_c"),
            "a\\*b\\_c",
            "markdown characters are backslash-escaped"
        );
    }

    #[test]
    fn people_show_without_notifying_pings_notify() {
        let mut m = Mentions::default();
        let r = Rich::new()
            .person(&UserRef::named("111", "alice"))
            .text(" ")
            .ping(&UserRef::named("222", "bob"))
            .text(" in ")
            .channel(&ChannelRef::new("333", "inc-x"))
            .text(" ")
            .mention("<@&444>")
            .text(" ")
            .person(&UserRef::named("carol", "carol"));
        assert_eq!(
            line(&r, &mut m),
            "<@111> <@222> in <#333> <@&444> @\u{200B}carol"
        );
        assert_eq!(
            m,
            Mentions {
                users: vec![222],
                roles: vec![444]
            }
        );
        let allowed = serde_json::to_value(m.allowed()).expect("json");
        assert_eq!(allowed["parse"], json!([]));
        assert_eq!(allowed["users"], json!(["222"]));
        assert_eq!(allowed["roles"], json!(["444"]));
    }

    #[test]
    fn announcements_are_embeds_with_colour_and_buttons() {
        let msg = Message::new()
            .line(
                Rich::new()
                    .strong("🔴 SEV1 · INC-1 · ")
                    .user_text("db <down>"),
            )
            .field("Status", Rich::plain("triage"))
            .button(Button {
                action: ButtonAction::Resolve,
                label: "Resolve".into(),
                incident: 1,
                danger: true,
                confirm: Some("Resolve INC-1?".into()),
                code: None,
            });
        let r = render(&msg);
        assert_eq!(r.content, "");
        let embed = serde_json::to_value(r.embed.expect("embed")).expect("json");
        assert_eq!(embed["color"], json!(0x00D7_263D));
        assert_eq!(embed["description"], "**🔴 SEV1 · INC-1 ·** db \\<down\\>");
        assert_eq!(embed["fields"][0]["name"], "Status");
        assert_eq!(embed["fields"][0]["inline"], true);
        let row = serde_json::to_value(&r.buttons[0]).expect("json");
        assert_eq!(row["components"][0]["custom_id"], "klaxon:resolve?:1");
        assert_eq!(row["components"][0]["style"], 4);
    }

    #[test]
    fn long_text_is_clipped_to_discord_limits() {
        let msg = Message::new().line(Rich::plain("x".repeat(5000)));
        assert_eq!(render(&msg).content.chars().count(), CONTENT_LIMIT);
    }
}
