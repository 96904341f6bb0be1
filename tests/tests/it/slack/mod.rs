//! Slack against the fake Slack, one file per concern: `http.rs` (signed HTTP: the scenario,
//! signatures, escaping, collisions, rate limits), `socket.rs` (Socket Mode), `buttons.rs`
//! (clicks and forms), `capture.rs` (📌 to the timeline), `posts.rs` (the postmortem file, the
//! announcement's debounce). Klaxon is spawned with `klaxon_tests::spawn`.

mod buttons;
mod capture;
mod http;
mod posts;
mod socket;

use klaxon::store::Store;
use klaxon_tests::fake_slack::FakeSlack;
use serde_json::Value;

/// The shared script's `@name` as Slack sends it (slash command with escaping on): `<@U0NAME|name>`.
pub(super) fn slack_mentions(text: &str) -> String {
    text.split(' ')
        .map(|w| match w.strip_prefix('@') {
            Some(name) if !name.is_empty() => format!("<@U0{}|{name}>", name.to_uppercase()),
            _ => w.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits until Klaxon has opened `n` forms; returns the last.
pub(super) async fn opened(fake: &FakeSlack, n: usize) -> Value {
    assert!(
        fake.until(|c| c.iter().filter(|c| c.method == "views.open").count() >= n)
            .await,
        "{:#?}",
        fake.calls()
    );
    fake.views().pop().expect("a view")
}

/// The timeline of incident 1 of the Slack workspace, from the database.
pub(super) async fn timeline_of(path: &str) -> Vec<klaxon::store::Entry> {
    let store = Store::open(path).await.expect("store");
    let mut conn = store.read().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Slack, "T0TEAM");
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, 1)
        .await
        .expect("q")
        .expect("INC-1");
    klaxon::store::timeline::all(&mut conn, incident.id)
        .await
        .expect("timeline")
}

pub(super) fn captured(entries: &[klaxon::store::Entry]) -> Vec<(String, String, String)> {
    entries
        .iter()
        .filter(|e| e.kind.word() == "captured")
        .map(|e| {
            (
                klaxon::clock::long(e.at),
                e.actor.id.clone(),
                e.text.clone(),
            )
        })
        .collect()
}
