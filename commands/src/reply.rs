//! `Message`, `Rich` and `Reply`: platform-neutral output that each adapter renders and escapes.
//!
//! The engine never writes a platform's markup. It says which parts are its own words and which
//! are user text; adapters escape the latter for their platform, so no title or note can ping
//! `@everyone`, `@here` or `<!channel>`.

use serde::{Deserialize, Serialize};

use crate::{ChannelRef, UserRef};

/// One piece of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "t", content = "v")]
pub enum Span {
    /// Klaxon's own words: no user text ever goes here.
    Plain(String),
    /// Klaxon's own words, emphasised.
    Strong(String),
    /// Text a user typed: escaped by the adapter, never interpreted as markup or mentions.
    User(String),
    /// A person, shown by name; adapters render it so that it does not notify.
    Person(UserRef),
    /// A person who must be notified (a reminder to the IC, an escalation).
    Ping(UserRef),
    /// A channel, linked where the platform can.
    Channel(ChannelRef),
    /// A mention the operator wrote in the platform's own syntax in the configuration (an
    /// escalation tier such as `<!subteam^S1>` or `<@&42>`): trusted, passed through, and
    /// meant to notify. Never built from user input.
    Mention(String),
}

/// A line of text made of spans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rich(pub Vec<Span>);

impl Rich {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn plain(text: impl Into<String>) -> Self {
        Self(vec![Span::Plain(text.into())])
    }

    pub fn push(mut self, span: Span) -> Self {
        self.0.push(span);
        self
    }

    pub fn text(self, text: impl Into<String>) -> Self {
        self.push(Span::Plain(text.into()))
    }

    pub fn strong(self, text: impl Into<String>) -> Self {
        self.push(Span::Strong(text.into()))
    }

    pub fn user_text(self, text: impl Into<String>) -> Self {
        self.push(Span::User(text.into()))
    }

    pub fn person(self, user: &UserRef) -> Self {
        self.push(Span::Person(user.clone()))
    }

    pub fn ping(self, user: &UserRef) -> Self {
        self.push(Span::Ping(user.clone()))
    }

    /// Appends another line's spans.
    pub fn append(mut self, other: Rich) -> Self {
        self.0.extend(other.0);
        self
    }

    pub fn mention(self, mention: impl Into<String>) -> Self {
        self.push(Span::Mention(mention.into()))
    }

    pub fn channel(self, channel: &ChannelRef) -> Self {
        self.push(Span::Channel(channel.clone()))
    }

    /// The line with no markup: names for people and `#name` for channels. The console prints
    /// this; tests read it.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        for span in &self.0 {
            match span {
                Span::Plain(t) | Span::Strong(t) | Span::User(t) => out.push_str(t),
                Span::Person(u) | Span::Ping(u) => {
                    out.push('@');
                    out.push_str(u.label());
                }
                Span::Channel(c) => {
                    out.push('#');
                    out.push_str(&c.name);
                }
                Span::Mention(m) => out.push_str(m),
            }
        }
        out
    }
}

/// A labelled value, shown as a column in Block Kit or an embed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub label: String,
    pub value: Rich,
}

/// What a button does: the same as the command of the same name, on the message's incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonAction {
    Ack,
    Resolve,
    /// Confirm a runbook action; the button carries its code.
    Confirm,
    /// Post a status update: platforms with forms ask for the text first.
    Update,
    /// Declare an incident from an alert's announcement; the button carries the alert's id as
    /// its code (and no incident: `incident` is 0).
    Declare,
}

impl ButtonAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Resolve => "resolve",
            Self::Confirm => "confirm",
            Self::Update => "update",
            Self::Declare => "declare",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ack" => Some(Self::Ack),
            "resolve" => Some(Self::Resolve),
            "confirm" => Some(Self::Confirm),
            "update" => Some(Self::Update),
            "declare" => Some(Self::Declare),
            _ => None,
        }
    }
}

/// A button under a message, for platforms that have them (the console ignores them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub action: ButtonAction,
    pub label: String,
    /// The incident's number in its workspace.
    pub incident: i64,
    /// A red button.
    #[serde(default)]
    pub danger: bool,
    /// Ask "are you sure?" with this text before acting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    /// The confirmation code, for `Confirm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// A message Klaxon posts: lines of text, then optional labelled fields and buttons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub lines: Vec<Rich>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

impl Message {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn line(mut self, line: Rich) -> Self {
        self.lines.push(line);
        self
    }

    pub fn field(mut self, label: impl Into<String>, value: Rich) -> Self {
        self.fields.push(Field {
            label: label.into(),
            value,
        });
        self
    }

    pub fn button(mut self, button: Button) -> Self {
        self.buttons.push(button);
        self
    }

    /// Every line, then `label: value` per field, with no markup.
    pub fn to_plain(&self) -> String {
        let mut lines: Vec<String> = self.lines.iter().map(Rich::to_plain).collect();
        lines.extend(
            self.fields
                .iter()
                .map(|f| format!("{}: {}", f.label, f.value.to_plain())),
        );
        lines.join("\n")
    }
}

/// Whether a reply reports success, a refusal the user can fix, or Klaxon's own failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    Ok,
    UserError,
    InternalError,
}

/// The answer to one invocation, shown only to the person who asked. Everything others should
/// see is posted separately, from the committed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub kind: ReplyKind,
    pub message: Message,
}

impl Reply {
    pub fn ok(message: Message) -> Self {
        Self {
            kind: ReplyKind::Ok,
            message,
        }
    }

    pub fn ok_line(line: Rich) -> Self {
        Self::ok(Message::new().line(line))
    }

    pub fn user_error(err: &crate::UserError) -> Self {
        Self {
            kind: ReplyKind::UserError,
            message: Message::new().line(Rich::plain(err.text())),
        }
    }

    pub fn internal_error(correlation_id: &str) -> Self {
        Self {
            kind: ReplyKind::InternalError,
            message: Message::new().line(Rich::plain(format!(
                "Internal error (ref {correlation_id}). Nothing was changed; try again, and report the ref if it persists."
            ))),
        }
    }

    pub fn to_plain(&self) -> String {
        self.message.to_plain()
    }
}
