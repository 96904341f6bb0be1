//! `slack/manifest.yaml` read into slack-morphism's app manifest model: interactivity and event
//! subscriptions are settings (where Slack's schema has them), every event Klaxon handles is
//! subscribed, and every scope its calls need is asked for.

use slack_morphism::prelude::SlackAppManifest;

const MANIFEST: &str = include_str!("../../../slack/manifest.yaml");

/// The events `adapters/slack/src/events.rs` handles: 📌 added and removed, and edits and
/// deletions of messages in public and private incident channels.
const EVENTS: &[&str] = &[
    "reaction_added",
    "reaction_removed",
    "message.channels",
    "message.groups",
];

#[test]
fn the_manifest_subscribes_to_what_klaxon_handles_and_asks_for_every_scope() {
    let manifest: SlackAppManifest =
        serde_yaml_ng::from_str(MANIFEST).expect("slack/manifest.yaml is an app manifest");
    let settings = manifest.settings.expect("settings");
    let interactivity = settings.interactivity.expect("settings.interactivity");
    assert!(interactivity.is_enabled);
    assert_eq!(
        interactivity
            .request_url
            .map(|u| u.path().to_owned())
            .as_deref(),
        Some("/slack/interactions")
    );
    let events = settings
        .event_subscriptions
        .expect("settings.event_subscriptions");
    assert_eq!(
        events.request_url.map(|u| u.path().to_owned()).as_deref(),
        Some("/slack/events")
    );
    let subscribed: Vec<String> = events
        .bot_events
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.0)
        .collect();
    for event in EVENTS {
        assert!(
            subscribed.iter().any(|e| e == event),
            "{event} in {subscribed:?}"
        );
    }
    assert_eq!(settings.socket_mode_enabled, Some(true));

    let features = manifest.features.expect("features");
    let commands: Vec<String> = features
        .slash_commands
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.command)
        .collect();
    assert_eq!(commands, ["/inc"]);
    let shortcuts: Vec<String> = features
        .shortcuts
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.callback_id.0)
        .collect();
    assert_eq!(shortcuts, [klaxon_slack::modal::DECLARE]);

    let scopes: Vec<String> = manifest
        .oauth_config
        .and_then(|o| o.scopes)
        .and_then(|s| s.bot)
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.0)
        .collect();
    for (scope, why) in klaxon_slack::workspace::SCOPES {
        assert!(
            scopes.iter().any(|s| s == scope),
            "{scope} ({why}) in {scopes:?}"
        );
    }
    // The fake grants what the manifest asks for, no more.
    let mut granted: Vec<&str> = klaxon_tests::fake_slack::SCOPES.to_vec();
    granted.sort_unstable();
    let mut asked: Vec<&str> = scopes.iter().map(String::as_str).collect();
    asked.sort_unstable();
    assert_eq!(granted, asked);
}

#[test]
fn interactivity_and_events_are_not_features() {
    // Slack ignores them under `features`: an app made that way gets no clicks and no events.
    let raw: serde_json::Value = serde_yaml_ng::from_str(MANIFEST).expect("yaml");
    for key in ["interactivity", "event_subscriptions"] {
        assert!(raw["features"].get(key).is_none(), "features.{key}");
        assert!(raw["settings"].get(key).is_some(), "settings.{key}");
    }
}
