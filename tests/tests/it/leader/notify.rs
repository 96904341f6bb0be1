//! Replicas wake each other: a command handled by one replica queues its platform calls, and
//! another replica's dispatcher makes them at once, woken by PostgreSQL's NOTIFY at the
//! command's commit; a reminder one replica schedules is fired by another's scheduler, woken
//! the same way. The fallback poll is set to an hour, so nothing else could have woken them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon::app::App;
use klaxon::clock::{ManualClock, SystemClock};
use klaxon::store::Store;
use klaxon_commands::{
    ChannelRef, ChatApi, Input, Invocation, PlatformKind, ReplyKind, Tenant, UserRef,
};
use klaxon_tests::fake_discord::{FakeDiscord, GENERAL, GUILD};
use klaxon_tests::recorder::Recorder;
use klaxon_tests::wait::{LIMIT, eventually};

use super::{Database, Replica, settings};

/// Replica A on `url`: an engine whose own dispatcher and scheduler never run, its platform a
/// recorder that must stay silent. It takes one `/inc declare sev2` and answers it; its store
/// (to close) and its platform.
async fn silent_replica_declares(
    url: &str,
    clock: Arc<dyn klaxon::clock::Clock>,
) -> (Store, Arc<Recorder>) {
    let store = Store::open(url).await.expect("store");
    let silent = Arc::new(Recorder::default());
    let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    apis.insert(PlatformKind::Discord, silent.clone());
    let a = App::new(
        store.clone(),
        klaxon_tests::spawn::discord::config(""),
        clock,
        apis,
    )
    .expect("app");
    let reply = a
        .engine
        .handle(Invocation {
            tenant: Tenant::new(PlatformKind::Discord, GUILD),
            channel: ChannelRef::new(GENERAL, "general"),
            user: UserRef::named(klaxon_tests::spawn::discord::ONCALL, "oncall"),
            input: Input::Text("declare sev2 Checkout down".to_owned()),
            incident: None,
            delivery_id: None,
        })
        .await;
    assert_eq!(reply.kind, ReplyKind::Ok, "{}", reply.to_plain());
    (store, silent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_queued_on_one_replica_is_made_by_anothers_dispatcher_without_a_poll() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = Database::new(dir.path()).await;
    let fake = FakeDiscord::start().await;
    let poll = Duration::from_secs(3600);
    let b = Replica::start(&db.url, settings(&fake, "replica-b", poll)).await;
    assert!(fake.until(FakeDiscord::connected).await, "gateway");

    // Replica A: an engine on the same database whose own dispatcher never runs (its
    // platform is a recorder that must stay silent).
    let (store, silent) = silent_replica_declares(&db.url, Arc::new(SystemClock)).await;

    // Replica B creates the incident's channel and announces it, long before its poll.
    let create = format!("/guilds/{GUILD}/channels");
    assert!(
        fake.until(|f| !f.calls_to("POST", &create).is_empty())
            .await,
        "replica B never made the call: {:?}",
        fake.calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect::<Vec<_>>()
    );
    assert!(
        fake.until(|f| !f.messages_in(klaxon_tests::fake_discord::PAGING).is_empty())
            .await,
        "announced"
    );
    assert!(silent.calls().is_empty(), "replica A made no call");
    store.close().await;
    b.stop().await;
    db.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_scheduled_on_one_replica_is_fired_by_anothers_scheduler_without_a_poll() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = Database::new(dir.path()).await;
    let fake = FakeDiscord::start().await;
    let b = Replica::start(
        &db.url,
        settings(&fake, "replica-b", Duration::from_secs(3600)),
    )
    .await;
    assert!(fake.until(FakeDiscord::connected).await, "gateway");

    // Replica A, whose scheduler and dispatcher never run, declares on a clock two hours
    // behind: the reminders it schedules are already due on B's.
    let behind = chrono::Utc::now() - chrono::Duration::hours(2);
    let (store, silent) =
        silent_replica_declares(&db.url, Arc::new(ManualClock::new(behind))).await;

    let fired = eventually(LIMIT, async || {
        let mut conn = store.read().await.expect("conn");
        let reminders = klaxon::store::reminders::pending_for(&mut conn, 1)
            .await
            .expect("reminders");
        reminders.iter().any(|r| r.fired > 0)
    })
    .await;
    assert!(fired, "replica B's scheduler never fired the due reminder");
    assert!(silent.calls().is_empty(), "replica A made no call");
    store.close().await;
    b.stop().await;
    db.stop().await;
}
