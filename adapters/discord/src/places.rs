//! Categories with room: a Discord category holds at most 50 channels, so when the configured
//! incidents category is full, incident channels go to "<name> 2", "<name> 3" … (made when
//! first needed, with the configured category's permission overwrites). Archived incident
//! channels go the same way into the archive category: the configured one, or "Incident
//! archive" (made when first needed), then "Incident archive 2" ….

use std::collections::HashMap;

use klaxon_commands::ApiError;
use serenity::all::{ChannelId, ChannelType, CreateChannel, GuildChannel, GuildId};

use crate::rest::Rest;

/// Channels per category (Discord: "Maximum number of channels in category reached (50)").
pub const CATEGORY_CAP: usize = 50;

/// How many overflow categories Klaxon makes after the configured one.
const MAX_OVERFLOW: usize = 9;

fn children(existing: &HashMap<ChannelId, GuildChannel>, category: ChannelId) -> usize {
    existing
        .values()
        .filter(|c| c.parent_id == Some(category))
        .count()
}

/// The category a new channel goes to: `base`, or the first of its overflow categories with
/// room, made if needed.
pub(crate) async fn room(
    rest: &Rest,
    guild: GuildId,
    existing: &HashMap<ChannelId, GuildChannel>,
    base: ChannelId,
) -> Result<ChannelId, ApiError> {
    let Some(first) = existing
        .get(&base)
        .filter(|c| c.kind == ChannelType::Category)
    else {
        return Err(ApiError::Permanent(format!(
            "category {base} is not a category of guild {guild} (check [discord] category)"
        )));
    };
    if children(existing, base) < CATEGORY_CAP {
        return Ok(base);
    }
    for n in 2..=MAX_OVERFLOW + 1 {
        let name = format!("{} {n}", first.name);
        match existing
            .values()
            .find(|c| c.kind == ChannelType::Category && c.name == name)
        {
            Some(c) if children(existing, c.id) < CATEGORY_CAP => return Ok(c.id),
            Some(_) => {}
            None => {
                let category = CreateChannel::new(&name)
                    .kind(ChannelType::Category)
                    .permissions(first.permission_overwrites.clone());
                let made = crate::rest::create_channel(rest, guild, &category).await?;
                tracing::info!(category = %made.id, %name, "incidents category full; made another");
                return Ok(made.id);
            }
        }
    }
    Err(ApiError::Permanent(format!(
        "category {base} and its {MAX_OVERFLOW} overflow categories are full"
    )))
}

/// The archive category's name when none is configured.
pub const ARCHIVE_NAME: &str = "Incident archive";

/// How many archive categories Klaxon makes before it gives up (each holds 50 channels).
const MAX_ARCHIVES: usize = 20;

/// The categories archived channels go to: the configured one and its overflow ("<name> 2" …),
/// or "Incident archive" and its overflow.
pub fn is_archive(
    existing: &HashMap<ChannelId, GuildChannel>,
    configured: Option<ChannelId>,
    category: ChannelId,
) -> bool {
    let Some(c) = existing
        .get(&category)
        .filter(|c| c.kind == ChannelType::Category)
    else {
        return false;
    };
    let base = configured
        .and_then(|id| existing.get(&id))
        .map_or(ARCHIVE_NAME, |b| b.name.as_str());
    Some(category) == configured
        || c.name == base
        || c.name
            .strip_prefix(base)
            .and_then(|n| n.strip_prefix(' '))
            .is_some_and(|n| n.parse::<usize>().is_ok_and(|n| n >= 2))
}

/// The archive category with room for one more channel: the configured one (`room`, with its
/// overflow), or the first of "Incident archive", "Incident archive 2" … with room, made if
/// needed.
pub(crate) async fn archive_room(
    rest: &Rest,
    guild: GuildId,
    existing: &HashMap<ChannelId, GuildChannel>,
    configured: Option<ChannelId>,
) -> Result<ChannelId, ApiError> {
    if let Some(base) = configured {
        return room(rest, guild, existing, base).await;
    }
    for n in 1..=MAX_ARCHIVES {
        let name = if n == 1 {
            ARCHIVE_NAME.to_owned()
        } else {
            format!("{ARCHIVE_NAME} {n}")
        };
        match existing
            .values()
            .find(|c| c.kind == ChannelType::Category && c.name == name)
        {
            Some(c) if children(existing, c.id) < CATEGORY_CAP => return Ok(c.id),
            Some(_) => {}
            None => {
                let category = CreateChannel::new(&name).kind(ChannelType::Category);
                let made = crate::rest::create_channel(rest, guild, &category).await?;
                tracing::info!(category = %made.id, %name, "made an archive category");
                return Ok(made.id);
            }
        }
    }
    Err(ApiError::Permanent(format!(
        "the {MAX_ARCHIVES} archive categories are full"
    )))
}
