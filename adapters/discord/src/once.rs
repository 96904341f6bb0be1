//! Calls made once even when made again: a new channel's topic ends with its creation's key,
//! so that a retry after a crash adopts the channel Klaxon made instead of making a twin (a
//! post's once-only is its enforced nonce, in `api.rs`).

use klaxon_commands::{ApiError, ChannelRef, NewChannel, Rich};
use serenity::all::{ChannelType, GuildId};

use crate::api::{DiscordApi, TOPIC_LIMIT, channels, snowflake};
use crate::markdown;

/// What Klaxon writes at the end of a channel's topic when it creates the channel: the
/// creation's key, so that a retry after a crash can tell the channel it made.
pub(crate) fn marker(key: &str) -> String {
    format!(" · {key}")
}

/// How much earlier than Klaxon's claim a channel's id may say it was made (clock skew).
const SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// When the snowflake was made: its top 42 bits are milliseconds since Discord's epoch
/// (discord.com/developers/docs/reference, "Snowflakes": `(snowflake >> 22) + 1420070400000`).
fn made_at(id: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    let ms = i64::try_from(id >> 22)
        .ok()?
        .checked_add(1_420_070_400_000)?;
    chrono::DateTime::from_timestamp_millis(ms)
}

impl DiscordApi {
    /// A new channel's topic: the topic, clipped to leave room for the marker within Discord's
    /// 1024 characters, then the marker.
    pub(crate) fn topic_with_marker(rich: &Rich, key: &str) -> String {
        let marker = marker(key);
        let room = TOPIC_LIMIT.saturating_sub(marker.chars().count());
        format!("{}{marker}", markdown::clip(&markdown::plain(rich), room))
    }

    /// A text channel named `new.name` whose topic ends with the creation's marker and whose
    /// id was made since `since` (less [`SKEW`]).
    pub(crate) async fn adopt_created_now(
        &self,
        new: &NewChannel,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError> {
        let guild = GuildId::new(snowflake(&new.workspace, "guild")?);
        let _one_at_a_time = self.creating.lock().await;
        let marker = marker(&new.key);
        let found = channels(&self.rest, guild).await?.into_values().find(|c| {
            c.kind == ChannelType::Text
                && c.name == new.name
                && c.topic.as_deref().is_some_and(|t| t.ends_with(&marker))
                && made_at(c.id.get()).is_some_and(|at| at >= since - SKEW)
        });
        Ok(found.map(|c| ChannelRef::new(c.id.to_string(), c.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_fits_in_discords_topic_limit() {
        let long = Rich::plain("x".repeat(2000));
        let topic = DiscordApi::topic_with_marker(&long, "klaxon-1234567890123-zzzz");
        assert!(topic.chars().count() <= TOPIC_LIMIT, "{}", topic.len());
        assert!(topic.ends_with(" · klaxon-1234567890123-zzzz"), "{topic}");
    }

    #[test]
    fn a_snowflake_tells_when_it_was_made() {
        // discord.com/developers/docs/reference, "Snowflakes": 175928847299117063 was made at
        // 2016-04-30 11:18:25.796 UTC.
        let at = made_at(175_928_847_299_117_063).expect("time");
        assert_eq!(at.to_rfc3339(), "2016-04-30T11:18:25.796+00:00");
    }
}
