//! The Events API: `event_callback`s from `POST /slack/events` or Socket Mode `events_api`
//! envelopes (the same JSON). A reaction with the capture emoji (default `pushpin`) on a
//! message in an incident channel puts the message on the timeline; removing the last such
//! reaction takes it off; `message_changed` and `message_deleted` follow a captured message.

use chrono::{DateTime, Utc};
use klaxon_commands::{
    ChannelEvent, EventKind, Handler, MessageRef, PlatformKind, Tenant, UserRef,
};
use serde_json::Value;

use crate::SlackApi;

/// A Slack `ts` (`1763888400.000123`, seconds and microseconds since the epoch) as UTC.
pub fn ts_time(ts: &str) -> Option<DateTime<Utc>> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let nanos: u32 = format!("{digits:0<9}").parse().ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// Whether a reaction name is the capture emoji (skin tones included).
fn is_capture(reaction: &str, emoji: &str) -> bool {
    reaction == emoji
        || reaction
            .strip_prefix(emoji)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// What an `event_callback` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// An event ready for the engine.
    Ready(ChannelEvent),
    /// A message was marked: fetch it (text, author, permalink) first.
    Fetch {
        tenant: Tenant,
        channel: String,
        ts: String,
        by: UserRef,
        event_id: Option<String>,
    },
}

/// Reads an `event_callback`; `None` for events Klaxon does not use.
pub fn parse(callback: &Value, emoji: &str) -> Option<Wanted> {
    let tenant = Tenant::new(PlatformKind::Slack, callback["team_id"].as_str()?);
    let event_id = callback["event_id"].as_str().map(str::to_owned);
    let event = &callback["event"];
    let ready = |channel: &str, ts: &str, kind| {
        Wanted::Ready(ChannelEvent {
            tenant: tenant.clone(),
            channel_id: channel.to_owned(),
            message: MessageRef(ts.to_owned()),
            event_id: event_id.clone(),
            kind,
        })
    };
    match event["type"].as_str()? {
        kind @ ("reaction_added" | "reaction_removed") => {
            if !is_capture(event["reaction"].as_str()?, emoji) || event["item"]["type"] != "message"
            {
                return None;
            }
            let channel = event["item"]["channel"].as_str()?;
            let ts = event["item"]["ts"].as_str()?;
            let by = UserRef::id(event["user"].as_str()?);
            if kind == "reaction_added" {
                Some(Wanted::Fetch {
                    tenant: tenant.clone(),
                    channel: channel.to_owned(),
                    ts: ts.to_owned(),
                    by,
                    event_id: event_id.clone(),
                })
            } else {
                Some(ready(channel, ts, EventKind::Unmarked { by }))
            }
        }
        "message" => {
            let channel = event["channel"].as_str()?;
            let event_time = ts_time(event["ts"].as_str().or(event["event_ts"].as_str())?)?;
            match event["subtype"].as_str()? {
                "message_changed" => {
                    let message = &event["message"];
                    let at = message["edited"]["ts"]
                        .as_str()
                        .and_then(ts_time)
                        .unwrap_or(event_time);
                    Some(ready(
                        channel,
                        message["ts"].as_str()?,
                        EventKind::Edited {
                            text: message["text"].as_str().unwrap_or_default().to_owned(),
                            at,
                        },
                    ))
                }
                "message_deleted" => Some(ready(
                    channel,
                    event["deleted_ts"].as_str()?,
                    EventKind::Deleted { at: event_time },
                )),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Handles one `event_callback`. `Err` (to have Slack deliver it again) when the message could
/// not be fetched for a passing reason or the engine could not commit it.
pub async fn handle(
    callback: &Value,
    emoji: &str,
    handler: &dyn Handler,
    api: &SlackApi,
) -> Result<(), String> {
    let event = match parse(callback, emoji) {
        None => return Ok(()),
        Some(Wanted::Ready(event)) => event,
        Some(Wanted::Fetch {
            tenant,
            channel,
            ts,
            by,
            event_id,
        }) => {
            let message = match api.fetch_message(&channel, &ts).await {
                Ok(Some(message)) => message,
                Ok(None) => {
                    tracing::info!(%channel, %ts, "a marked message is gone; nothing to capture");
                    return Ok(());
                }
                Err(klaxon_commands::ApiError::Permanent(why)) => {
                    // Not an incident channel Klaxon can read, most often.
                    tracing::info!(%channel, %why, "could not read a marked message");
                    return Ok(());
                }
                Err(e) => return Err(format!("fetching a marked message: {e}")),
            };
            ChannelEvent {
                tenant,
                channel_id: channel,
                message: MessageRef(ts),
                event_id,
                kind: EventKind::Marked { by, message },
            }
        }
    };
    handler.event(event).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slack_timestamps_are_utc() {
        assert_eq!(
            ts_time("1763888400.000123").map(|t| t.to_rfc3339()),
            Some("2025-11-23T09:00:00.000123+00:00".to_owned())
        );
        assert_eq!(ts_time("x.1"), None);
        assert_eq!(ts_time("1.x"), None);
        assert!(ts_time("1763888400").is_some());
    }

    #[test]
    fn reactions_and_message_changes() {
        let reaction = |kind: &str, name: &str| {
            json!({
                "type": "event_callback", "team_id": "T0TEAM", "event_id": "Ev1",
                "event": { "type": kind, "user": "U0BOB", "reaction": name, "item_user": "U0ALICE",
                    "item": { "type": "message", "channel": "C0INC", "ts": "1763888400.000100" },
                    "event_ts": "1763888500.000200" }
            })
        };
        assert!(matches!(
            parse(&reaction("reaction_added", "pushpin"), "pushpin"),
            Some(Wanted::Fetch { ref ts, .. }) if ts == "1763888400.000100"
        ));
        assert!(
            parse(
                &reaction("reaction_added", "pushpin::skin-tone-2"),
                "pushpin"
            )
            .is_some()
        );
        assert!(parse(&reaction("reaction_added", "thumbsup"), "pushpin").is_none());
        assert!(parse(&reaction("reaction_added", "pushpin"), "round_pushpin").is_none());
        let Some(Wanted::Ready(removed)) =
            parse(&reaction("reaction_removed", "pushpin"), "pushpin")
        else {
            panic!("an unmark");
        };
        assert_eq!(
            removed.kind,
            EventKind::Unmarked {
                by: UserRef::id("U0BOB")
            }
        );
        let deleted = json!({
            "type": "event_callback", "team_id": "T0TEAM", "event_id": "Ev2",
            "event": { "type": "message", "subtype": "message_deleted", "hidden": true,
                "channel": "C0INC", "ts": "1763888600.000300", "deleted_ts": "1763888400.000100",
                "event_ts": "1763888600.000300" }
        });
        let Some(Wanted::Ready(deleted)) = parse(&deleted, "pushpin") else {
            panic!("a deletion");
        };
        assert_eq!(deleted.message, MessageRef("1763888400.000100".into()));
        // Ordinary new messages are not Klaxon's business.
        let plain = json!({
            "type": "event_callback", "team_id": "T0TEAM",
            "event": { "type": "message", "channel": "C0INC", "user": "U1", "text": "hi", "ts": "1.2" }
        });
        assert!(parse(&plain, "pushpin").is_none());
    }
}
