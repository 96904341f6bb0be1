//! `klaxon doctor`'s Slack checks: the transport's secrets, the bot token (`auth.test`), the
//! scopes Klaxon's calls need (from `auth.test`'s `x-oauth-scopes`), and that the paging
//! channel and each alert route's channel exist for Klaxon and that it can post there (a
//! member of a private channel; `chat:write.public` or a member for a public one). Slack's Web
//! API cannot list an app's slash commands, interactivity or event subscriptions: those lines
//! say where to look.

use klaxon_commands::PlatformKind;
use klaxon_slack::SlackApi;
use klaxon_slack::workspace::{self, ChannelInfo, Identity};
use secrecy::ExposeSecret as _;

use super::Check;
use crate::app::PlatformSettings;
use crate::config::Config;

const P: &str = "slack";

/// Every Slack check, in order; after a refused token, only that line.
pub async fn checks(config: &Config, settings: &PlatformSettings) -> Vec<Check> {
    let mut out = vec![transport(settings)];
    let Some(token) = &settings.slack_bot_token else {
        out.push(Check::fail(
            P,
            "token",
            "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page",
        ));
        return out;
    };
    let api = SlackApi::new(token.expose_secret(), settings.slack_api_url.as_deref());
    let me = match api.identity().await {
        Ok(me) => me,
        Err(e) => {
            out.push(Check::fail(
                P,
                "token",
                format!("Slack refused it: {}", reason(&e)),
            ));
            return out;
        }
    };
    out.push(Check::ok(
        P,
        "token",
        format!(
            "works: workspace {} ({}) as bot user {}",
            me.team, me.team_id, me.user_id
        ),
    ));
    out.push(scopes(&me));
    let channels = match api.channels().await {
        Ok(c) => Some(c),
        Err(e) => {
            out.push(Check::fail(
                P,
                "channels",
                format!("conversations.list failed: {}", reason(&e)),
            ));
            None
        }
    };
    if let Some(channels) = &channels {
        let public = me
            .scopes
            .as_ref()
            .is_none_or(|s| s.iter().any(|s| s == "chat:write.public"));
        let mut wanted = vec![(
            "paging channel".to_owned(),
            "incidents.paging_channel",
            config.incidents.paging_channel.clone(),
        )];
        for (n, route) in config.alerts.routes.iter().enumerate() {
            let name = route.name.clone().unwrap_or_else(|| format!("#{}", n + 1));
            for t in route
                .targets
                .iter()
                .filter(|t| t.platform == PlatformKind::Slack)
            {
                wanted.push((
                    format!("alert route {name}"),
                    "alerts.routes target",
                    t.channel.clone(),
                ));
            }
        }
        for (name, key, value) in wanted {
            out.push(channel(&api, channels, &name, key, &value, public).await);
        }
    }
    out.push(Check::manual(
        P,
        "/inc",
        "Slack's Web API cannot list an app's slash commands: check that /inc is under the app's Slash Commands (slack/manifest.yaml declares it)",
    ));
    out.push(Check::manual(
        P,
        "interactivity and events",
        "not readable through the Web API: check Interactivity and Event Subscriptions in the app's settings match slack/manifest.yaml (Socket Mode on, or the request URLs for HTTP)",
    ));
    out
}

/// The adapter's reason, without the `auth:`/`permanent:` prefix.
fn reason(e: &klaxon_commands::ApiError) -> String {
    match e {
        klaxon_commands::ApiError::Auth(r)
        | klaxon_commands::ApiError::Permanent(r)
        | klaxon_commands::ApiError::Unreachable(r) => r.clone(),
        other => other.to_string(),
    }
}

/// Socket Mode needs the app-level token; HTTP the signing secret.
fn transport(settings: &PlatformSettings) -> Check {
    match (&settings.slack_app_token, &settings.slack_signing_secret) {
        (Some(t), _) if !t.expose_secret().starts_with("xapp-") => Check::fail(
            P,
            "transport",
            "SLACK_APP_TOKEN is not an app-level token (xapp-…): create one with connections:write under Basic Information → App-Level Tokens",
        ),
        (Some(_), _) => Check::ok(P, "transport", "Socket Mode (SLACK_APP_TOKEN)"),
        (None, Some(_)) => Check::ok(
            P,
            "transport",
            "HTTP (SLACK_SIGNING_SECRET): Slack must reach /slack/commands, /slack/interactions and /slack/events",
        ),
        (None, None) => Check::fail(
            P,
            "transport",
            "neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP) is set",
        ),
    }
}

fn scopes(me: &Identity) -> Check {
    let Some(granted) = &me.scopes else {
        return Check::manual(
            P,
            "scopes",
            "Slack did not report the token's scopes (x-oauth-scopes): compare OAuth & Permissions with slack/manifest.yaml",
        );
    };
    let missing: Vec<String> = workspace::SCOPES
        .iter()
        .filter(|(scope, _)| !granted.iter().any(|g| g == scope))
        .map(|(scope, why)| format!("{scope} ({why})"))
        .collect();
    if missing.is_empty() {
        Check::ok(
            P,
            "scopes",
            format!("all {} scopes Klaxon's calls need", workspace::SCOPES.len()),
        )
    } else {
        Check::fail(
            P,
            "scopes",
            format!(
                "missing {}: add them under OAuth & Permissions (or recreate the app from slack/manifest.yaml), reinstall the app and set the new SLACK_BOT_TOKEN",
                missing.join(", ")
            ),
        )
    }
}

/// Whether the channel `value` (a name or an ID) exists for Klaxon and takes its posts.
async fn channel(
    api: &SlackApi,
    channels: &[ChannelInfo],
    name: &str,
    key: &str,
    value: &str,
    public_ok: bool,
) -> Check {
    let invite = "if it is private, invite Klaxon to it (/invite @Klaxon in the channel)";
    let found = if workspace::is_channel_id(value) {
        match channels.iter().find(|c| c.id == value) {
            Some(c) => Some(c.clone()),
            None => api.channel_info(value).await.ok().flatten(),
        }
    } else {
        let wanted = value.trim_start_matches('#');
        channels.iter().find(|c| c.name == wanted).cloned()
    };
    let Some(c) = found else {
        return Check::fail(
            P,
            name,
            format!(
                "{key} = {value:?}: Slack says no such channel exists for Klaxon; {invite}, or fix the name"
            ),
        );
    };
    let label = format!("#{} ({})", c.name, c.id);
    if c.archived {
        return Check::fail(
            P,
            name,
            format!("{label} is archived: unarchive it or set {key} to another channel"),
        );
    }
    match (c.private, c.member, public_ok) {
        (true, true, _) => Check::ok(P, name, format!("{label}, private, Klaxon is a member")),
        (true, false, _) => Check::fail(
            P,
            name,
            format!(
                "{label} is private and Klaxon is not in it: invite Klaxon (/invite @Klaxon in the channel)"
            ),
        ),
        (false, true, _) => Check::ok(P, name, format!("{label}, public, Klaxon is a member")),
        (false, false, true) => Check::ok(
            P,
            name,
            format!("{label}, public, Klaxon posts without joining (chat:write.public)"),
        ),
        (false, false, false) => Check::fail(
            P,
            name,
            format!(
                "{label}: Klaxon is not in it and lacks chat:write.public; invite Klaxon or add the scope"
            ),
        ),
    }
}
