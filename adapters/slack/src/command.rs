//! Slash commands, from either transport: the signed form Slack posts to `/slack/commands`
//! and Socket Mode's `slash_commands` envelope become one [`SlashCommand`], whose
//! [`SlashCommand::invocation`] is the only place a slash command becomes an `Invocation`.
//! Also the v0 signature check that every HTTP request passes first.

use klaxon_commands::{
    ChannelRef, Input, Invocation, PlatformKind, Reply, ReplyKind, Tenant, UserRef,
};
use serde::Deserialize;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

/// The fields of Slack's slash-command form that Klaxon uses.
#[derive(Debug, Clone, Deserialize)]
pub struct SlashCommand {
    pub team_id: String,
    pub channel_id: String,
    #[serde(default)]
    pub channel_name: String,
    pub user_id: String,
    #[serde(default)]
    pub user_name: String,
    pub command: String,
    #[serde(default)]
    pub text: String,
    /// Unique per invocation: a retry of the same command carries the same one.
    #[serde(default)]
    pub trigger_id: String,
}

impl From<SlackCommandEvent> for SlashCommand {
    /// Socket Mode's envelope carries the same fields as the form, but no user name.
    fn from(event: SlackCommandEvent) -> Self {
        Self {
            team_id: event.team_id.0,
            channel_id: event.channel_id.0,
            channel_name: event.channel_name.unwrap_or_default(),
            user_id: event.user_id.0,
            user_name: String::new(),
            command: event.command.0,
            text: event.text.unwrap_or_default(),
            trigger_id: event.trigger_id.0,
        }
    }
}

impl SlashCommand {
    /// The platform-neutral request. A redelivery (an HTTP retry, or Socket Mode's
    /// unacknowledged envelope) carries the same trigger, which is the delivery id.
    pub fn invocation(&self) -> Invocation {
        let channel_name = if self.channel_name.is_empty() {
            &self.channel_id
        } else {
            &self.channel_name
        };
        Invocation {
            tenant: Tenant::new(PlatformKind::Slack, &self.team_id),
            channel: ChannelRef::new(&self.channel_id, channel_name),
            user: if self.user_name.is_empty() {
                UserRef::id(&self.user_id)
            } else {
                UserRef::named(&self.user_id, &self.user_name)
            },
            input: Input::Text(self.text.clone()),
            incident: None,
            delivery_id: (!self.trigger_id.is_empty()).then(|| self.trigger_id.clone()),
        }
    }
}

/// `/inc` with no text opens the declare form (with `views.open`, inside the command's
/// three-second trigger window) instead of the help. `None` when there is text, or when the
/// form could not be opened: then the engine answers, with the help.
pub async fn open_form(
    text: &str,
    trigger_id: &str,
    channel: &ChannelRef,
    api: &crate::SlackApi,
    oncall: &[String],
) -> Option<Reply> {
    if !text.trim().is_empty() || trigger_id.is_empty() {
        return None;
    }
    let origin = crate::modal::Origin {
        channel_id: channel.id.clone(),
        channel_name: Some(channel.name.clone()),
        incident: None,
    };
    match api
        .open_view(trigger_id, crate::modal::declare_view(&origin, oncall))
        .await
    {
        Ok(()) => Some(Reply::ok_line(klaxon_commands::Rich::plain(
            "📝 Fill in the form to declare an incident (`/inc help` lists the commands).",
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "could not open the declare form");
            None
        }
    }
}

/// What a slash command is answered, over either transport: the declare form opened, or the
/// engine's reply once its effects are committed.
pub async fn answer(command: &SlashCommand, edge: &crate::edge::Edge) -> Reply {
    let invocation = command.invocation();
    if let Some(reply) = open_form(
        &command.text,
        &command.trigger_id,
        &invocation.channel,
        &edge.api,
        &edge.oncall,
    )
    .await
    {
        return reply;
    }
    edge.handler.handle(invocation).await
}

/// A reply as the text its author sees, a refusal marked with a warning sign.
pub fn text(reply: &Reply) -> String {
    let text = crate::mrkdwn::text(&reply.message);
    match reply.kind {
        ReplyKind::Ok => text,
        ReplyKind::UserError | ReplyKind::InternalError => format!(":warning: {text}"),
    }
}

/// The immediate answer to a slash command over HTTP: visible only to its author.
pub fn response(reply: &Reply) -> serde_json::Value {
    serde_json::json!({ "response_type": "ephemeral", "text": text(reply) })
}

/// A request whose signature checked out.
pub struct Verified;

/// How far a request's `X-Slack-Request-Timestamp` may be from now, in seconds ("Verifying
/// requests from Slack": reject requests more than five minutes old, against replays).
pub const WINDOW_SECS: u64 = 300;

/// Checks Slack's v0 signature and its timestamp (at most five minutes old), with
/// slack-morphism's verifier. The timestamp is checked here first, without wrapping
/// arithmetic: the verifier's own check (`(now - ts).abs()`) overflows on a timestamp near
/// `i64::MIN` and would panic in a debug build.
pub fn verify(
    signing_secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &str,
) -> Result<Verified, String> {
    verify_at(
        signing_secret,
        signature,
        timestamp,
        body,
        chrono::Utc::now().timestamp(),
    )
}

/// [`verify`] at `now` (Unix seconds). slack-morphism's verifier checks the window against the
/// system clock as well.
pub fn verify_at(
    signing_secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &str,
    now: i64,
) -> Result<Verified, String> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err("unsigned request".to_owned());
    };
    if !fresh(timestamp, now) {
        return Err("stale or malformed timestamp".to_owned());
    }
    SlackEventSignatureVerifier::new(&SlackSigningSecret::new(signing_secret.to_owned()))
        .verify(signature, body, timestamp)
        .map(|()| Verified)
        .map_err(|e| match e {
            slack_morphism::signature_verifier::SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => {
                "stale or malformed timestamp".to_owned()
            }
            _ => "bad signature".to_owned(),
        })
}

/// Whether `timestamp` (Unix seconds, as Slack sends it) is within [`WINDOW_SECS`] of `now`.
fn fresh(timestamp: &str, now: i64) -> bool {
    timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|t| now.abs_diff(t) <= WINDOW_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_near_the_end_of_time_is_stale_not_a_panic() {
        let now = 1_795_000_000;
        assert!(fresh(&now.to_string(), now));
        assert!(fresh(&(now - 300).to_string(), now));
        assert!(!fresh(&(now - 301).to_string(), now));
        assert!(!fresh(&(now + 301).to_string(), now));
        for hostile in [i64::MIN, i64::MIN + 1, now - i64::MAX, i64::MAX] {
            assert!(!fresh(&hostile.to_string(), now), "{hostile}");
        }
        assert!(!fresh("soon", now));
        // The whole check, before the signature: no panic, a clear refusal.
        assert_eq!(
            verify("secret", Some("v0=00"), Some(&i64::MIN.to_string()), "body").err(),
            Some("stale or malformed timestamp".to_owned())
        );
    }
}
