//! Interactions (slash commands, button clicks, modal submissions) as `Invocation`s, and their
//! responses.
//!
//! Discord wants a first response within 3 seconds. The engine commits and answers at once in
//! almost every case; when it has not answered by [`Responder::deadline`], Klaxon defers
//! (an ephemeral "thinking…") and edits the response with the result when it comes. The
//! platform calls a command implies (channel, posts) are in the outbox either way.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use klaxon_commands::{
    Button, ButtonAction, Captured, ChannelEvent, ChannelRef, Command, EventKind, Handler, Input,
    Invocation, MessageRef, OptionValue, PlatformKind, Reply, ReplyKind, Tenant, UserRef,
};
use serenity::all::{
    ActionRowComponent, ButtonStyle, CommandDataOption, CommandDataOptionValue, CommandInteraction,
    CommandType, ComponentInteraction, CreateActionRow, CreateButton, CreateInputText,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateModal,
    EditInteractionResponse, Http, InputTextStyle, Interaction, Member, MessageId,
    ModalInteraction, PartialChannel, User,
};
use serenity::builder::Builder as _;

use crate::custom_id::{Clicked, custom_id, parse_custom_id};
use crate::markdown::{self, Mentions};
use crate::register;

/// The modal that asks for a status update.
const UPDATE_MODAL: &str = "klaxon:update";
const UPDATE_FIELD: &str = "text";

/// What to do with an interaction.
#[derive(Debug)]
pub enum Plan {
    /// Run it through the engine; answer with its reply.
    Invoke(Invocation),
    /// Put a message on its incident's timeline ("Add to timeline"); answer with the result.
    Mark(ChannelEvent),
    /// Answer at once, without the engine (a refusal, a question, a modal).
    Respond(CreateInteractionResponse),
    /// Not Klaxon's.
    Ignore,
}

fn tenant(guild: Option<serenity::all::GuildId>) -> Option<Tenant> {
    guild.map(|g| Tenant::new(PlatformKind::Discord, g.to_string()))
}

fn who(user: &User, member: Option<&Member>) -> UserRef {
    let name = member
        .and_then(|m| m.nick.clone())
        .unwrap_or_else(|| user.display_name().to_owned());
    UserRef::named(user.id.to_string(), name)
}

fn channel(id: serenity::all::ChannelId, partial: Option<&PartialChannel>) -> ChannelRef {
    let name = partial
        .and_then(|c| c.name.clone().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| id.to_string());
    ChannelRef::new(id.to_string(), name)
}

/// A refusal shown only to the person who asked.
pub fn refusal(text: &str) -> CreateInteractionResponse {
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(format!("⚠️ {}", markdown::escape(text)))
            .ephemeral(true)
            .allowed_mentions(Mentions::default().allowed()),
    )
}

const OUTSIDE_A_SERVER: &str = "Klaxon works in a server's channels, not in direct messages.";

/// Decides what an interaction means.
pub fn plan(interaction: &Interaction) -> Plan {
    match interaction {
        Interaction::Ping(_) => Plan::Respond(CreateInteractionResponse::Pong),
        Interaction::Command(c) => command(c),
        Interaction::Component(c) => component(c),
        Interaction::Modal(m) => modal(m),
        _ => Plan::Ignore,
    }
}

/// A link to a message, as Discord's "Copy Message Link" gives it.
pub fn permalink(guild: &str, channel: &str, message: &str) -> String {
    format!("https://discord.com/channels/{guild}/{channel}/{message}")
}

/// A Discord timestamp as UTC.
pub fn utc(t: serenity::all::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap_or_default()
}

/// A message as the timeline keeps it.
pub fn captured(guild: &str, message: &serenity::all::Message) -> Captured {
    let text = if message.content.trim().is_empty() {
        "(no text: an attachment or embed)".to_owned()
    } else {
        message.content.clone()
    };
    Captured {
        author: UserRef::named(
            message.author.id.to_string(),
            message.author.display_name().to_owned(),
        ),
        text,
        at: utc(message.timestamp),
        permalink: Some(permalink(
            guild,
            &message.channel_id.to_string(),
            &message.id.to_string(),
        )),
    }
}

/// "Add to timeline" (right-click a message → Apps): the message as the interaction carries
/// it, so no privileged intent is needed.
fn add_to_timeline(c: &CommandInteraction) -> Plan {
    let Some(tenant) = tenant(c.guild_id) else {
        return Plan::Respond(refusal(OUTSIDE_A_SERVER));
    };
    let Some(target) = c.data.target_id.map(|t| MessageId::new(t.get())) else {
        return Plan::Ignore;
    };
    let Some(message) = c.data.resolved.messages.get(&target) else {
        return Plan::Respond(refusal("Discord did not send the message; try again."));
    };
    Plan::Mark(ChannelEvent {
        channel_id: message.channel_id.to_string(),
        message: MessageRef(message.id.to_string()),
        event_id: Some(c.id.to_string()),
        kind: EventKind::Marked {
            by: who(&c.user, c.member.as_deref()),
            message: captured(&tenant.workspace, message),
        },
        tenant,
    })
}

fn command(c: &CommandInteraction) -> Plan {
    if c.data.kind == CommandType::Message && c.data.name == register::ADD_TO_TIMELINE {
        return add_to_timeline(c);
    }
    if c.data.kind != CommandType::ChatInput || c.data.name != register::COMMAND {
        return Plan::Ignore;
    }
    let Some(tenant) = tenant(c.guild_id) else {
        return Plan::Respond(refusal(OUTSIDE_A_SERVER));
    };
    let command = match subcommand(&c.data.options) {
        Some((name, options)) => {
            klaxon_commands::from_options(&name, &options, PlatformKind::Discord)
        }
        None => Ok(Command::Help { topic: None }),
    };
    let command = match command {
        Ok(command) => command,
        Err(e) => return Plan::Respond(refusal(e.text())),
    };
    Plan::Invoke(Invocation {
        tenant,
        channel: channel(c.channel_id, c.channel.as_ref()),
        user: who(&c.user, c.member.as_deref()),
        input: Input::Command(command),
        incident: None,
        delivery_id: Some(c.id.to_string()),
    })
}

/// The spec name and filled-in options of `/inc <sub>` or `/inc <group> <sub>`.
fn subcommand(options: &[CommandDataOption]) -> Option<(String, Vec<(String, OptionValue)>)> {
    let first = options.first()?;
    match &first.value {
        CommandDataOptionValue::SubCommand(opts) => Some((first.name.clone(), values(opts))),
        CommandDataOptionValue::SubCommandGroup(subs) => {
            let sub = subs.first()?;
            let CommandDataOptionValue::SubCommand(opts) = &sub.value else {
                return None;
            };
            let name = register::grouped(&first.name, &sub.name).unwrap_or(&sub.name);
            Some((name.to_owned(), values(opts)))
        }
        _ => None,
    }
}

fn values(options: &[CommandDataOption]) -> Vec<(String, OptionValue)> {
    options
        .iter()
        .filter_map(|o| {
            let value = match &o.value {
                CommandDataOptionValue::String(s) => OptionValue::Text(s.clone()),
                CommandDataOptionValue::Integer(n) => OptionValue::Integer(*n),
                CommandDataOptionValue::User(u) => OptionValue::User(u.to_string()),
                CommandDataOptionValue::Boolean(b) => OptionValue::Flag(*b),
                _ => return None,
            };
            Some((o.name.clone(), value))
        })
        .collect()
}

fn component(c: &ComponentInteraction) -> Plan {
    let Some(clicked) = parse_custom_id(&c.data.custom_id) else {
        return Plan::Ignore;
    };
    let Some(tenant) = tenant(c.guild_id) else {
        return Plan::Respond(refusal(OUTSIDE_A_SERVER));
    };
    if clicked.ask_first {
        return Plan::Respond(ask_first(&clicked));
    }
    let command = match clicked.action {
        // The text comes from a form; its submission is the command.
        ButtonAction::Update => return Plan::Respond(update_modal(clicked.incident)),
        // An alert's announcement: the code is the alert's id, and there is no incident yet.
        ButtonAction::Declare => {
            let Some(alert) = clicked.code.as_deref().and_then(|c| c.parse().ok()) else {
                return Plan::Ignore;
            };
            return Plan::Invoke(Invocation {
                tenant,
                channel: channel(c.channel_id, c.channel.as_ref()),
                user: who(&c.user, c.member.as_ref()),
                input: Input::DeclareAlert { alert },
                incident: None,
                delivery_id: Some(c.id.to_string()),
            });
        }
        ButtonAction::Ack => Command::Ack,
        ButtonAction::Resolve => Command::Resolve { summary: None },
        ButtonAction::Confirm => match clicked.code {
            Some(code) => Command::Confirm {
                code: code.to_ascii_uppercase(),
            },
            None => return Plan::Ignore,
        },
    };
    Plan::Invoke(Invocation {
        tenant,
        channel: channel(c.channel_id, c.channel.as_ref()),
        user: who(&c.user, c.member.as_ref()),
        input: Input::Command(command),
        incident: Some(clicked.incident),
        delivery_id: Some(c.id.to_string()),
    })
}

/// Discord has no confirmation dialog: the question comes back as an ephemeral message with
/// the button that acts.
fn ask_first(clicked: &Clicked) -> CreateInteractionResponse {
    let (question, label) = match clicked.action {
        ButtonAction::Resolve => (
            format!(
                "Resolve INC-{}? Its reminders stop and the announcement says resolved.",
                clicked.incident
            ),
            "Yes, resolve",
        ),
        ButtonAction::Ack => (
            format!("Acknowledge INC-{}?", clicked.incident),
            "Yes, acknowledge",
        ),
        ButtonAction::Confirm => (
            "Send this action now? It cannot be undone.".to_owned(),
            "Yes, send",
        ),
        ButtonAction::Update => return update_modal(clicked.incident),
        ButtonAction::Declare => (
            "Declare an incident from this alert?".to_owned(),
            "Yes, declare",
        ),
    };
    let button = Button {
        action: clicked.action,
        label: label.to_owned(),
        incident: clicked.incident,
        danger: true,
        confirm: None,
        code: clicked.code.clone(),
    };
    CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(question)
            .ephemeral(true)
            .allowed_mentions(Mentions::default().allowed())
            .components(vec![CreateActionRow::Buttons(vec![
                CreateButton::new(custom_id(&button, false))
                    .label(label)
                    .style(ButtonStyle::Danger),
            ])]),
    )
}

/// The modal that asks for an update on incident `number`.
pub fn update_modal(number: i64) -> CreateInteractionResponse {
    CreateInteractionResponse::Modal(
        CreateModal::new(
            format!("{UPDATE_MODAL}:{number}"),
            format!("Status update · INC-{number}"),
        )
        .components(vec![CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Paragraph, "What changed?", UPDATE_FIELD)
                .placeholder("Rolled back v2.3; error rate falling")
                .max_length(1800)
                .required(true),
        )]),
    )
}

fn modal(m: &ModalInteraction) -> Plan {
    let Some(number) = m
        .data
        .custom_id
        .strip_prefix(UPDATE_MODAL)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(|n| n.parse::<i64>().ok())
    else {
        return Plan::Ignore;
    };
    let Some(tenant) = tenant(m.guild_id) else {
        return Plan::Respond(refusal(OUTSIDE_A_SERVER));
    };
    let text = m
        .data
        .components
        .iter()
        .flat_map(|row| &row.components)
        .find_map(|c| match c {
            ActionRowComponent::InputText(t) if t.custom_id == UPDATE_FIELD => t.value.clone(),
            _ => None,
        })
        .unwrap_or_default();
    let command = klaxon_commands::from_options(
        "update",
        &[("text".to_owned(), OptionValue::Text(text))],
        PlatformKind::Discord,
    );
    let command = match command {
        Ok(c) => c,
        Err(e) => return Plan::Respond(refusal(e.text())),
    };
    Plan::Invoke(Invocation {
        tenant,
        channel: channel(m.channel_id, m.channel.as_ref()),
        user: who(&m.user, m.member.as_ref()),
        input: Input::Command(command),
        incident: Some(number),
        delivery_id: Some(m.id.to_string()),
    })
}

/// A reply as an ephemeral response.
pub fn reply_message(reply: &Reply) -> CreateInteractionResponseMessage {
    let (content, embed, buttons) = reply_parts(reply);
    let mut m = CreateInteractionResponseMessage::new()
        .content(content)
        .ephemeral(true)
        .allowed_mentions(Mentions::default().allowed())
        .components(buttons);
    if let Some(embed) = embed {
        m = m.embed(embed);
    }
    m
}

/// A reply's content, embed and buttons. Replies are seen by one person: they notify nobody.
type Parts = (
    String,
    Option<serenity::all::CreateEmbed>,
    Vec<CreateActionRow>,
);

fn reply_parts(reply: &Reply) -> Parts {
    let rendered = markdown::render(&reply.message);
    let content = match reply.kind {
        ReplyKind::Ok => rendered.content,
        ReplyKind::UserError | ReplyKind::InternalError => {
            markdown::clip(&format!("⚠️ {}", rendered.content), markdown::CONTENT_LIMIT)
        }
    };
    (content, rendered.embed, rendered.buttons)
}

fn reply_edit(reply: &Reply) -> EditInteractionResponse {
    let (content, embed, buttons) = reply_parts(reply);
    // serenity applies no default allowed mentions to this edit: always set them.
    let mut e = EditInteractionResponse::new()
        .content(content)
        .allowed_mentions(Mentions::default().allowed())
        .components(buttons);
    if let Some(embed) = embed {
        e = e.embed(embed);
    }
    e
}

/// Sends the first response: over REST for the gateway, as the HTTP answer for the endpoint.
pub type SendFirst =
    Box<dyn FnOnce(CreateInteractionResponse) -> BoxFuture<'static, Result<(), String>> + Send>;

/// Answers interactions through the engine.
#[derive(Clone)]
pub struct Responder {
    pub handler: Arc<dyn Handler>,
    pub http: Arc<Http>,
    /// How long to wait for the engine before deferring.
    pub deadline: Duration,
}

impl Responder {
    /// Handles one interaction to its end: the first response, and the result when deferred.
    pub async fn respond(&self, interaction: Interaction, send_first: SendFirst) {
        let handler = Arc::clone(&self.handler);
        let work: BoxFuture<'static, Reply> = match plan(&interaction) {
            Plan::Ignore => return,
            Plan::Respond(response) => {
                if let Err(e) = send_first(response).await {
                    tracing::warn!(error = %e, "could not answer a Discord interaction");
                }
                return;
            }
            Plan::Invoke(invocation) => async move { handler.handle(invocation).await }.boxed(),
            Plan::Mark(event) => async move { handler.mark(event).await }.boxed(),
        };
        let mut work = tokio::spawn(work);
        let reply = tokio::select! {
            done = &mut work => Some(done),
            () = tokio::time::sleep(self.deadline) => None,
        };
        match reply {
            Some(Ok(reply)) => {
                log_refusal(&reply);
                let response = CreateInteractionResponse::Message(reply_message(&reply));
                if let Err(e) = send_first(response).await {
                    tracing::warn!(error = %e, "could not answer a Discord interaction");
                }
            }
            Some(Err(e)) => tracing::error!(error = %e, "the engine task failed"),
            None => {
                let defer = CreateInteractionResponse::Defer(
                    CreateInteractionResponseMessage::new().ephemeral(true),
                );
                if let Err(e) = send_first(defer).await {
                    tracing::warn!(error = %e, "could not defer a Discord interaction");
                }
                let reply = match work.await {
                    Ok(reply) => reply,
                    Err(e) => {
                        tracing::error!(error = %e, "the engine task failed");
                        return;
                    }
                };
                log_refusal(&reply);
                self.edit_original(interaction.token(), &reply).await;
            }
        }
    }

    /// Replaces the deferred "thinking…" with the reply, retrying briefly: with the HTTP
    /// endpoint the deferral may still be on its way to Discord.
    async fn edit_original(&self, token: &str, reply: &Reply) {
        for attempt in 0..5u32 {
            match reply_edit(reply).execute(&*self.http, token).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "could not edit a deferred response");
                    tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt + 1))).await;
                }
            }
        }
    }
}

fn log_refusal(reply: &Reply) {
    if reply.kind != ReplyKind::Ok {
        tracing::info!(reply = %reply.to_plain(), "Discord interaction refused");
    }
}
