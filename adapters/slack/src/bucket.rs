//! Which rate-limit bucket each of Klaxon's calls counts against on Slack, and its pace, from
//! slack-morphism's rate control (`ratectl`): the tier its API module gives each method, the
//! tiers' default limits (`SlackApiRateControlConfig`'s `tiers_limits`), and
//! `chat.postMessage`'s special per-channel limit. Slack applies limits "per API method per
//! workspace per app" (docs.slack.dev/apis/web-api/rate-limits), and `chat.postMessage` per
//! channel, so that is the bucket's key.

use klaxon_commands::{Bucket, CallKind, Pace};
use slack_morphism::prelude::*;

/// The Web API method a call makes and slack-morphism's rate-control config for it, as
/// slack-morphism's `api` module passes it to `http_post` / `http_get` for that method.
fn method(kind: CallKind) -> (&'static str, &'static SlackApiMethodRateControlConfig) {
    match kind {
        CallKind::CreateChannel => ("conversations.create", &*SLACK_TIER2_METHOD_CONFIG),
        CallKind::Invite => ("conversations.invite", &*SLACK_TIER3_METHOD_CONFIG),
        CallKind::SetTopic => ("conversations.setTopic", &*SLACK_TIER2_METHOD_CONFIG),
        CallKind::Post => (
            "chat.postMessage",
            &*CHAT_POST_MESSAGE_SPECIAL_LIMIT_RATE_CTL,
        ),
        CallKind::Edit => ("chat.update", &*SLACK_TIER3_METHOD_CONFIG),
        CallKind::Pin => ("pins.add", &*SLACK_TIER2_METHOD_CONFIG),
        CallKind::Upload => ("files.completeUploadExternal", &*SLACK_TIER4_METHOD_CONFIG),
        CallKind::Archive => ("conversations.archive", &*SLACK_TIER2_METHOD_CONFIG),
        // No app can unarchive on Slack: Klaxon reads `conversations.info` to say so.
        CallKind::Unarchive => ("conversations.info", &*SLACK_TIER3_METHOD_CONFIG),
    }
}

/// The bucket of a call of `kind` in `workspace` (and `channel`, for a per-channel limit), at
/// slack-morphism's pace made `speed` times faster (1 but in tests against a scaled-down fake).
pub fn bucket(kind: CallKind, workspace: &str, channel: Option<&str>, speed: u32) -> Bucket {
    let (name, config) = method(kind);
    let (key, limit) = if let Some(special) = &config.special_rate_limit {
        let channel = channel.unwrap_or("");
        (
            format!("{name}:{workspace}:{channel}"),
            Some(special.limit.clone()),
        )
    } else {
        let tiers = SlackApiRateControlConfig::new().tiers_limits;
        let limit = config.tier.as_ref().and_then(|t| tiers.get(t)).cloned();
        (format!("{name}:{workspace}"), limit)
    };
    Bucket {
        key,
        pace: limit.map(|l| Pace {
            calls: u32::try_from(l.value).unwrap_or(u32::MAX),
            per: l.per / speed.max(1),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_follow_slack_morphisms_tiers_and_special_limits() {
        let create = bucket(CallKind::CreateChannel, "T1", Some("C1"), 1);
        assert_eq!(create.key, "conversations.create:T1", "per workspace");
        assert_eq!(
            create.pace,
            Some(Pace {
                calls: 20,
                per: Duration::from_secs(60)
            }),
            "Tier 2"
        );
        let post = bucket(CallKind::Post, "T1", Some("C1"), 1);
        assert_eq!(post.key, "chat.postMessage:T1:C1", "per channel");
        assert_eq!(
            post.pace.map(|p| p.interval()),
            Some(Duration::from_secs(1))
        );
        let fast = bucket(CallKind::CreateChannel, "T1", None, 10);
        assert_eq!(
            fast.pace.map(|p| p.interval()),
            Some(Duration::from_millis(300))
        );
        assert_ne!(
            bucket(CallKind::Post, "T1", Some("C2"), 1).key,
            post.key,
            "another channel, another bucket"
        );
    }
}
