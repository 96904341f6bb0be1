//! Which rate-limit bucket each of Klaxon's calls counts against on Discord: serenity's route
//! bucket (`Route::ratelimiting_bucket`, a route and its major parameter, the channel or the
//! guild). Discord tells the pace of a bucket only in each answer's `X-RateLimit-*` headers,
//! which serenity's limiter reads and keeps to inside the call (short waits, see
//! `api::INLINE_WAIT`), so a bucket here has no pace of its own: after a 429 its calls are
//! released one at a time.

use klaxon_commands::{Bucket, CallKind};
use serenity::all::{ChannelId, GuildId, MessageId, UserId};
use serenity::http::Route;

fn snowflake(s: &str) -> Option<u64> {
    s.parse().ok().filter(|n| *n != 0)
}

/// The bucket of a call of `kind` in guild `workspace` and `channel`. A call whose channel is
/// not known as an id (an incident's channel the outbox has not read) keys on what it has.
pub fn bucket(kind: CallKind, workspace: &str, channel: Option<&str>) -> Bucket {
    let channel_id = channel.and_then(snowflake).map(ChannelId::new);
    // The message or person is not a major parameter: any id gives the route's bucket.
    let any = 1;
    let route = match (kind, channel_id) {
        (CallKind::CreateChannel, _) => snowflake(workspace).map(|g| Route::GuildChannels {
            guild_id: GuildId::new(g),
        }),
        (CallKind::Post | CallKind::Upload, Some(c)) => {
            Some(Route::ChannelMessages { channel_id: c })
        }
        (CallKind::Edit, Some(c)) => Some(Route::ChannelMessage {
            channel_id: c,
            message_id: MessageId::new(any),
        }),
        (CallKind::Pin, Some(c)) => Some(Route::ChannelPin {
            channel_id: c,
            message_id: MessageId::new(any),
        }),
        (CallKind::Invite, Some(c)) => Some(Route::ChannelPermission {
            channel_id: c,
            target_id: UserId::new(any).into(),
        }),
        (CallKind::SetTopic | CallKind::Archive | CallKind::Unarchive, Some(c)) => {
            Some(Route::Channel { channel_id: c })
        }
        _ => None,
    };
    let key = match route {
        Some(route) => format!("{:?}", route.ratelimiting_bucket()),
        None => format!("{kind:?}:{workspace}:{}", channel.unwrap_or("")),
    };
    Bucket { key, pace: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_s_posts_share_a_bucket_other_channels_do_not() {
        let a = bucket(CallKind::Post, "1", Some("100"));
        assert_eq!(a, bucket(CallKind::Upload, "1", Some("100")));
        assert_ne!(a, bucket(CallKind::Post, "1", Some("200")));
        assert_ne!(a, bucket(CallKind::Pin, "1", Some("100")));
        let create = bucket(CallKind::CreateChannel, "7", None);
        assert_eq!(create, bucket(CallKind::CreateChannel, "7", Some("x")));
        assert_ne!(create, bucket(CallKind::CreateChannel, "8", None));
        assert_eq!(create.pace, None);
    }
}
