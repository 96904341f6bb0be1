//! What incidents look like in chat: announcement, pinned summary, topic, list and summary
//! replies. Platform-neutral [`Message`]s: user text is always a `User` span, so each adapter
//! escapes it for its platform.

use chrono::{DateTime, Utc};
use klaxon_commands::values::human_secs;
use klaxon_commands::{Button, ButtonAction, Message, Rich, Role, Severity, Status, UserRef};

use crate::clock::short;

use crate::store::Incident;

/// The badge that starts every line about an incident.
pub fn badge(severity: Severity) -> &'static str {
    match severity {
        Severity::Sev1 => "🔴",
        Severity::Sev2 => "🟠",
        Severity::Sev3 => "🟡",
        Severity::Sev4 => "🔵",
    }
}

/// `1h2m` between two times (never negative).
pub fn age(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    human_secs(u64::try_from((to - from).num_seconds()).unwrap_or(0))
}

/// An incident with its roles, ready to be shown.
pub struct View<'a> {
    pub incident: &'a Incident,
    pub roles: &'a [(Role, UserRef)],
}

impl View<'_> {
    pub fn holder(&self, role: Role) -> Option<&UserRef> {
        self.roles.iter().find(|(r, _)| *r == role).map(|(_, u)| u)
    }

    fn ic(&self) -> Rich {
        match self.holder(Role::Ic) {
            Some(u) => Rich::new().person(u),
            None => Rich::plain("unassigned"),
        }
    }

    /// `🟠 SEV2 · INC-1 · <title>`, or `✅ Resolved · SEV2 · INC-1 · <title>`.
    fn headline(&self) -> Rich {
        let i = self.incident;
        let lead = if i.is_open() {
            format!("{} {} · {} · ", badge(i.severity), i.severity, i.key())
        } else {
            format!("✅ Resolved · {} · {} · ", i.severity, i.key())
        };
        Rich::new().strong(lead).user_text(&i.title)
    }

    fn status(&self) -> Rich {
        let i = self.incident;
        match (i.status, i.resolved_at) {
            (Status::Resolved, Some(at)) => Rich::plain(format!(
                "resolved at {} after {}",
                short(at),
                age(i.declared_at, at)
            )),
            (status, _) => Rich::plain(status.as_str()),
        }
    }

    fn acknowledged(&self) -> Rich {
        match &self.incident.acknowledged {
            Some((who, at)) => Rich::new().person(who).text(format!(" at {}", short(*at))),
            None => Rich::plain("not yet"),
        }
    }

    /// One-tap buttons while the incident is open: Acknowledge (until someone has), Resolve
    /// (with a confirmation).
    fn buttons(&self, mut m: Message) -> Message {
        let i = self.incident;
        if !i.is_open() {
            return m;
        }
        if i.acknowledged.is_none() {
            m = m.button(Button {
                action: ButtonAction::Ack,
                label: "Acknowledge".to_owned(),
                incident: i.number,
                danger: false,
                confirm: None,
                code: None,
            });
        }
        m.button(Button {
            action: ButtonAction::Resolve,
            label: "Resolve".to_owned(),
            incident: i.number,
            danger: true,
            confirm: Some(format!("Resolve {}? Its reminders stop.", i.key())),
            code: None,
        })
    }

    /// Who to ask for access to a private incident's channel: the IC, else the declarer.
    fn contact(&self) -> &UserRef {
        self.holder(Role::Ic).unwrap_or(&self.incident.declared_by)
    }

    /// The headline outside the incident channel: a private incident's title is not shown.
    fn public_headline(&self) -> Rich {
        let i = self.incident;
        if !i.private {
            return self.headline();
        }
        if i.is_open() {
            Rich::new().strong(format!(
                "🔒 {} {} · {} · ",
                badge(i.severity),
                i.severity,
                i.key()
            ))
        } else {
            Rich::new().strong(format!("✅ Resolved · 🔒 {} · {} · ", i.severity, i.key()))
        }
        .text("private incident")
    }

    /// The paging-channel announcement, edited in place as the incident changes. A private
    /// incident's shows neither its title nor its channel (whose name comes from the title):
    /// it says whom to ask for access.
    pub fn announcement(&self) -> Message {
        let i = self.incident;
        let channel = if i.private {
            Rich::plain("private · ask ")
                .person(self.contact())
                .text(" for access")
        } else {
            Rich::new().channel(&planned(i))
        };
        let m = Message::new()
            .line(self.public_headline())
            .field("Status", self.status())
            .field("Channel", channel)
            .field("IC", self.ic())
            .field(
                "Declared",
                Rich::new()
                    .person(&i.declared_by)
                    .text(format!(" at {}", short(i.declared_at))),
            )
            .field("Acknowledged", self.acknowledged());
        self.buttons(m)
    }

    /// The summary pinned in the incident channel.
    pub fn summary_post(&self) -> Message {
        let i = self.incident;
        let mut m = Message::new().line(self.headline()).line(
            Rich::plain("Status: ")
                .text(self.status().to_plain())
                .text(" · IC: ")
                .append(self.ic())
                .text(" · Declared by ")
                .person(&i.declared_by)
                .text(format!(" at {}", short(i.declared_at))),
        );
        if i.is_open() {
            // Only the first steps still to do, so the pinned summary never nags about done ones.
            let mut next = Vec::new();
            if i.acknowledged.is_none() {
                next.push("/inc ack");
            }
            if self.holder(Role::Ic).is_none() {
                next.push("/inc lead @someone");
            }
            next.extend(["/inc update <text>", "/inc help"]);
            m = m.line(Rich::plain(format!("Next: {}", next.join(" · "))));
        }
        let m = self.buttons(m);
        // In the channel, Post update sits between Acknowledge and Resolve.
        match m
            .buttons
            .iter()
            .position(|b| b.action == ButtonAction::Resolve)
        {
            Some(at) => {
                let mut m = m;
                m.buttons.insert(
                    at,
                    Button {
                        action: ButtonAction::Update,
                        label: "Post update".to_owned(),
                        incident: i.number,
                        danger: false,
                        confirm: None,
                        code: None,
                    },
                );
                m
            }
            None => m,
        }
    }

    /// The incident channel's topic.
    pub fn topic(&self) -> Rich {
        let i = self.incident;
        Rich::plain(format!("{} · {} · IC: ", i.severity, i.status))
            .append(self.ic())
            .text(format!(" · {} ", i.key()))
            .user_text(&i.title)
    }

    /// The reply to `/inc summary`.
    pub fn summary_reply(
        &self,
        now: DateTime<Utc>,
        last_update: Option<(DateTime<Utc>, &str)>,
    ) -> Message {
        let i = self.incident;
        let mut roles = Rich::new();
        for (n, role) in Role::ALL.into_iter().enumerate() {
            if n > 0 {
                roles = roles.text(" · ");
            }
            roles = roles.text(format!("{role} "));
            roles = match self.holder(role) {
                Some(u) => roles.person(u),
                None => roles.text("—"),
            };
        }
        let update = match last_update {
            Some((at, text)) => {
                Rich::plain(format!("{} ({} ago): ", short(at), age(at, now))).user_text(text)
            }
            None => Rich::plain("none yet"),
        };
        Message::new()
            .line(self.headline())
            .field("Status", self.status())
            .field("Channel", Rich::new().channel(&i.channel()))
            .field(
                "Age",
                Rich::plain(format!(
                    "{} (declared {} by ",
                    age(i.declared_at, i.resolved_at.unwrap_or(now)),
                    short(i.declared_at)
                ))
                .person(&i.declared_by)
                .text(")"),
            )
            .field("Acknowledged", self.acknowledged())
            .field("Roles", roles)
            .field("Last update", update)
    }

    /// One line of `/inc list`, which works anywhere: a private incident shows no title and
    /// no channel.
    pub fn list_line(&self, now: DateTime<Utc>) -> Rich {
        let i = self.incident;
        if i.private {
            return Rich::plain(format!(
                "🔒 {} {} · {} · {} · private incident · ask ",
                badge(i.severity),
                i.key(),
                i.severity,
                i.status
            ))
            .person(self.contact())
            .text(format!(" for access · {}", age(i.declared_at, now)));
        }
        Rich::plain(format!(
            "{} {} · {} · {} · ",
            badge(i.severity),
            i.key(),
            i.severity,
            i.status
        ))
        .user_text(&i.title)
        .text(" · ")
        .channel(&i.channel())
        .text(format!(" · {}", age(i.declared_at, now)))
    }
}

/// The incident channel as messages written before it existed name it.
pub fn planned(i: &Incident) -> klaxon_commands::ChannelRef {
    match &i.channel_id {
        Some(_) => i.channel(),
        None => klaxon_commands::ChannelRef::planned(&i.channel_planned),
    }
}
