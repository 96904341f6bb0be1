//! Categories with room: a Discord category holds at most 50 channels, so when the configured
//! incidents category is full, incident channels go to "<name> 2", "<name> 3" … (made when
//! first needed, with the configured category's permission overwrites).

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
                let made = crate::api::create_channel(rest, guild, &category).await?;
                tracing::info!(category = %made.id, %name, "incidents category full; made another");
                return Ok(made.id);
            }
        }
    }
    Err(ApiError::Permanent(format!(
        "category {base} and its {MAX_OVERFLOW} overflow categories are full"
    )))
}
