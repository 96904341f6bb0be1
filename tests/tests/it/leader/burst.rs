//! A replica killed with SIGKILL in the middle of a burst of commands sent to two replicas in
//! turn: every command that was answered is in the database, once; every platform call queued
//! by either is made exactly once (the survivor takes over the dead one's claimed calls when
//! their lease passes: its clock is a manual one, moved past it); the gateway moves to the
//! survivor. The dead replica is the real binary; the survivor is served in-process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt as _;
use klaxon::clock::{Clock as _, ManualClock};
use klaxon_commands::{PlatformKind, Tenant};
use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD, PAGING};
use klaxon_tests::process::{Process, discord_env};
use klaxon_tests::spawn::discord::{
    ONCALL, ephemeral, next_id, public_key_hex, signing_key, try_post_signed, user_id,
};
use klaxon_tests::wait::{LIMIT, eventually};
use serde_json::Value;

use super::{Database, Replica, metrics, process_folder, settings};

/// Declares in the burst, sent to the two replicas in turn, this many at a time.
const BURST: usize = 24;
const IN_FLIGHT: usize = 6;
/// The first replica is killed once this many declares have been answered or refused.
const KILL_AFTER: usize = 8;

/// `/inc declare sev3 Burst <i>` over Discord's HTTP interactions to `url`: Klaxon's answer
/// when it gave one (type 4; a deferred answer or a dead replica's silence is none).
async fn declare(url: &str, i: usize) -> Option<String> {
    let (_, sub, options) =
        klaxon_tests::scenario::discord_options(&format!("declare sev3 Burst {i}"), &user_id);
    let interaction = fake_discord::slash(&next_id(), ONCALL, GENERAL, &sub, options);
    let response = try_post_signed(url, &interaction, Utc::now().timestamp(), &signing_key())
        .await
        .ok()
        .filter(|r| r.status().as_u16() == 200)?;
    let body: Value = response.json().await.ok()?;
    (body["type"] == 4).then(|| ephemeral(&body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_burst_loses_no_answered_command_and_every_call_is_made_once() {
    let (bin, dir) = process_folder().await;
    let db = Database::new(dir.path()).await;
    let fake = FakeDiscord::start().await;
    let mut env = discord_env(&fake);
    env.push(("KLAXON_DATABASE_URL", db.url.clone()));
    env.push(("DISCORD_PUBLIC_KEY", public_key_hex()));
    let mut first = Process::start(&bin, dir.path(), &env);
    assert!(first.ready(&reqwest::Client::new()).await, "never ready");
    assert!(fake.until(FakeDiscord::connected).await, "gateway");
    let clock = ManualClock::new(Utc::now());
    let mut survivor_settings = settings(&fake, "survivor", Duration::from_secs(1));
    survivor_settings.discord_public_key = Some(public_key_hex());
    let second =
        Replica::start_with_clock(&db.url, survivor_settings, Arc::new(clock.clone())).await;

    // Each call takes a while, so that the kill lands inside some of the first replica's.
    fake.set_latency(Duration::from_millis(200));
    let dead = klaxon_tests::process::replica_id(dir.path());
    let store = klaxon::store::Store::open(&db.url).await.expect("store");
    let urls = [first.url.clone(), second.url.clone()];
    let mut burst = futures_util::stream::iter((0..BURST).map(|i| {
        let url = urls[i % 2].clone();
        async move { (i, declare(&url, i).await) }
    }))
    .buffer_unordered(IN_FLIGHT);
    let mut answered: BTreeMap<usize, String> = BTreeMap::new();
    let mut ended = 0;
    while let Some((i, answer)) = burst.next().await {
        ended += 1;
        if let Some(text) = answer {
            assert!(text.contains(" declared"), "Burst {i}: {text}");
            answered.insert(i, text);
        }
        if ended == KILL_AFTER {
            // Killed while it holds a claim (a call in flight), so that the survivor has to
            // take one over.
            let holds = eventually(LIMIT, async || {
                let mut conn = store.read().await.expect("conn");
                let held = klaxon::store::outbox::held(&mut conn, Utc::now())
                    .await
                    .expect("held");
                held.iter().any(|(owner, _)| *owner == dead)
            })
            .await;
            first.kill_9();
            assert!(holds, "{dead} never held a call");
            fake.set_latency(Duration::ZERO);
        }
    }
    assert!(
        answered.len() >= KILL_AFTER / 2 && answered.len() < BURST,
        "the kill landed mid-burst: {answered:?}"
    );

    // The dead replica's claims show on the survivor's `/metrics` until their lease passes.
    let mut conn = store.read().await.expect("conn");
    let held = klaxon::store::outbox::held(&mut conn, clock.now())
        .await
        .expect("held");
    drop(conn);
    let text = metrics(&second.url).await;
    // (The survivor's own count moves as it works; the dead replica's cannot.)
    for (owner, n) in held.iter().filter(|(owner, _)| *owner == dead) {
        assert!(
            text.contains(&format!("klaxon_lanes_held{{replica=\"{owner}\"}} {n}\n")),
            "{owner} holds {n}: {text}"
        );
    }
    clock.set(
        Utc::now()
            + chrono::Duration::from_std(
                klaxon::outbox::CALL_TIMEOUT + klaxon::outbox::LEASE_MARGIN,
            )
            .expect("lease")
            + chrono::Duration::seconds(5),
    );
    klaxon_tests::spawn::settled(&db.url).await;

    // Every answered declare is in the database once, under the number its answer gave.
    let mut conn = store.read().await.expect("conn");
    let incidents =
        klaxon::store::incidents::open(&mut conn, &Tenant::new(PlatformKind::Discord, GUILD))
            .await
            .expect("incidents");
    drop(conn);
    store.close().await;
    let mut titles: Vec<&str> = incidents.iter().map(|i| i.title.as_str()).collect();
    titles.sort_unstable();
    let before = titles.len();
    titles.dedup();
    assert_eq!(
        before,
        titles.len(),
        "a declare made two incidents: {titles:?}"
    );
    for (i, text) in &answered {
        let title = format!("Burst {i}");
        let incident = incidents
            .iter()
            .find(|n| n.title == title)
            .unwrap_or_else(|| panic!("{title} was answered ({text}) but is not stored"));
        assert!(
            text.contains(&format!("INC-{} ", incident.number)),
            "{title}: {text}"
        );
    }
    // Each incident has one channel, no twin, and one announcement; no message was posted
    // twice (each carries its outbox call's nonce).
    let channels = fake.channels();
    for incident in &incidents {
        let id = incident
            .channel_id
            .as_deref()
            .expect("its channel was made");
        let name = &fake.channel(id).expect("at the fake").name;
        let twin = format!("{name}-2");
        assert_eq!(
            channels
                .iter()
                .filter(|c| c.name == *name || c.name == twin)
                .count(),
            1,
            "{name}: {:?}",
            channels.iter().map(|c| &c.name).collect::<Vec<_>>()
        );
    }
    let announcements = fake.messages_in(PAGING);
    assert_eq!(announcements.len(), incidents.len(), "{announcements:#?}");
    // A message keeps its nonce until it is edited (the fake, like Discord, returns it with
    // the message it made); within an incident's channel no two say the same.
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &channels {
        for m in fake.messages_in(&c.id) {
            if let Some(nonce) = m["nonce"].as_str() {
                seen.entry(format!("nonce {nonce}"))
                    .or_default()
                    .push(c.name.clone());
            }
            if c.id != PAGING {
                seen.entry(format!("{}: {} {}", c.name, m["content"], m["embeds"]))
                    .or_default()
                    .push(c.name.clone());
            }
        }
    }
    let twice: Vec<_> = seen.iter().filter(|(_, m)| m.len() > 1).collect();
    assert!(twice.is_empty(), "posted twice: {twice:#?}");
    // The gateway moved to the survivor.
    assert!(
        fake.until_for(Duration::from_secs(15), |f| f.sessions().0 == 2
            && f.connected())
            .await,
        "the survivor never took the gateway: {:?}",
        fake.sessions()
    );
    second.stop().await;
    db.stop().await;
}
