//! Slack at start-up: the channels `klaxon.toml` names (`incidents.paging_channel`, alert
//! route targets) may be written as names or IDs; every one is resolved to its ID once, from
//! `conversations.list`, because Slack's methods other than `chat.postMessage` take IDs only.

use klaxon_commands::PlatformKind;
use klaxon_slack::SlackApi;
use klaxon_slack::workspace::{ChannelInfo, is_channel_id};

use crate::config::Config;

/// What to do about a channel Klaxon cannot see.
const INVITE: &str = "if it is a private channel, invite Klaxon to it (/invite @Klaxon in the channel), then restart";

/// Resolves the Slack channels of `config` in place. A name that matches no channel Klaxon can
/// see is an error naming the key; an ID Slack does not show Klaxon is logged (Klaxon may be
/// invited later) and told to the declarer when a post there fails.
pub async fn resolve(config: &mut Config, api: &SlackApi) -> anyhow::Result<()> {
    let mut wanted: Vec<(String, String)> = vec![(
        "incidents.paging_channel".to_owned(),
        config.incidents.paging_channel.clone(),
    )];
    for (n, route) in config.alerts.routes.iter().enumerate() {
        let name = route.name.clone().unwrap_or_else(|| format!("#{}", n + 1));
        for t in route
            .targets
            .iter()
            .filter(|t| t.platform == PlatformKind::Slack)
        {
            wanted.push((format!("alerts.routes {name} target"), t.channel.clone()));
        }
    }
    let channels = match list(api).await {
        Ok(c) => c,
        Err(e) if wanted.iter().all(|(_, v)| is_channel_id(v)) => {
            tracing::error!(error = %e, "could not list Slack channels; using the configured channel IDs as they are");
            return Ok(());
        }
        Err(e) => anyhow::bail!(
            "could not list Slack channels to find {}: {e}",
            wanted
                .iter()
                .map(|(k, v)| format!("{k} = {v:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut ids = Vec::with_capacity(wanted.len());
    for (key, value) in &wanted {
        ids.push(find(api, &channels, key, value).await?);
    }
    let mut ids = ids.into_iter();
    config.slack.paging_channel_id = ids.next();
    for route in &mut config.alerts.routes {
        for t in route
            .targets
            .iter_mut()
            .filter(|t| t.platform == PlatformKind::Slack)
        {
            if let Some(id) = ids.next() {
                t.channel = id;
            }
        }
    }
    Ok(())
}

/// `conversations.list`, tried again a few times when Slack is busy (429, 5xx).
async fn list(api: &SlackApi) -> Result<Vec<ChannelInfo>, klaxon_commands::ApiError> {
    let mut wait = std::time::Duration::from_secs(1);
    for _ in 0..4 {
        match api.channels().await {
            Err(klaxon_commands::ApiError::Transient {
                reason,
                retry_after,
            }) => {
                let pause = retry_after
                    .unwrap_or(wait)
                    .min(std::time::Duration::from_secs(30));
                tracing::warn!(%reason, retry_in = ?pause, "listing Slack channels failed; trying again");
                tokio::time::sleep(pause).await;
                wait *= 2;
            }
            other => return other,
        }
    }
    api.channels().await
}

/// The ID of the channel `value` names.
async fn find(
    api: &SlackApi,
    channels: &[ChannelInfo],
    key: &str,
    value: &str,
) -> anyhow::Result<String> {
    if is_channel_id(value) {
        let seen = match channels.iter().find(|c| c.id == value) {
            Some(c) => Some(c.clone()),
            None => api.channel_info(value).await.ok().flatten(),
        };
        match seen {
            Some(c) if c.archived => tracing::error!(
                key,
                channel = value,
                "the channel is archived: unarchive it or name another"
            ),
            Some(_) => {}
            None => tracing::error!(
                key,
                channel = value,
                "Slack says this channel does not exist for Klaxon: {INVITE}"
            ),
        }
        return Ok(value.to_owned());
    }
    let name = value.trim_start_matches('#');
    match channels.iter().find(|c| c.name == name) {
        Some(c) => {
            tracing::info!(key, name, id = %c.id, "Slack channel found");
            Ok(c.id.clone())
        }
        None => anyhow::bail!(
            "{key} = {value:?}: no Slack channel named #{name} that Klaxon can see; {INVITE}, or write the channel's ID (C…, from the channel's details)"
        ),
    }
}
