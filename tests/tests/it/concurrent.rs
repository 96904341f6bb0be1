//! Two replicas on one PostgreSQL database handling commands at the same moment (issue #16):
//! numbers that are the highest so far plus one (incident numbers, follow-up items, postmortem
//! versions) are never given twice, and one delivery handed to both (a platform's retry landing
//! on the other replica) has one effect and one answer. These run on PostgreSQL whatever the
//! run's backend (a private cluster when the run has none): on SQLite one process owns the file.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon::app::App;
use klaxon::clock::ManualClock;
use klaxon::config::Config;
use klaxon::store::Store;
use klaxon_commands::{
    ChannelRef, ChatApi, Input, Invocation, PlatformKind, Reply, ReplyKind, Tenant, UserRef,
};
use klaxon_tests::Recorder;
use klaxon_tests::database;

/// One replica: its own store (its own writer and readers) on the shared database.
async fn replica(url: &str, clock: &ManualClock) -> App {
    let store = Store::open(url).await.expect("open store");
    let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    apis.insert(PlatformKind::Console, Arc::new(Recorder::default()));
    App::new(store, Config::default(), Arc::new(clock.clone()), apis).expect("app")
}

/// A database of its own (the run's PostgreSQL, or a private cluster kept alive by the first
/// value) and two replicas on it sharing one manual clock.
async fn two_replicas() -> (Option<klaxon_tests::postgres::Postgres>, App, App) {
    let (pg, url) = database::postgres().await;
    let clock = ManualClock::new(klaxon_tests::start_time());
    let a = replica(&url, &clock).await;
    let b = replica(&url, &clock).await;
    (pg, a, b)
}

fn say(
    app: &App,
    user: &str,
    channel: &str,
    text: &str,
    delivery: Option<&str>,
) -> impl Future<Output = Reply> + use<> {
    let inv = Invocation {
        tenant: Tenant::new(PlatformKind::Console, "local"),
        channel: ChannelRef::new(channel, channel),
        user: UserRef::named(user, user),
        input: Input::Text(text.to_owned()),
        incident: None,
        delivery_id: delivery.map(str::to_owned),
    };
    let engine = app.engine.clone();
    async move { engine.handle(inv).await }
}

fn ok(reply: &Reply) -> String {
    assert_eq!(reply.kind, ReplyKind::Ok, "{}", reply.to_plain());
    reply.to_plain()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_declaring_at_once_never_give_one_number_twice() {
    let (_pg, a, b) = two_replicas().await;

    let declares: Vec<_> = (0..24)
        .map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            say(
                app,
                "alice",
                "C0PAGING",
                &format!("declare sev2 burst {i}"),
                None,
            )
        })
        .collect();
    let replies = futures_util::future::join_all(declares).await;
    let mut numbers: Vec<i64> = replies
        .iter()
        .map(|r| {
            let text = ok(r);
            let at = text.find("INC-").expect("names its incident") + 4;
            text[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .expect("a number")
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (1..=24).collect::<Vec<_>>(),
        "each declare its own number"
    );

    // Follow-up items and postmortem versions of one incident, from both replicas at once (in
    // its channel, which one replica's outbox creates).
    a.settle().await.expect("settle");
    let (incident, channel) = {
        let mut conn = a.store.read().await.expect("read");
        let incident = klaxon::store::incidents::by_number(
            &mut conn,
            &Tenant::new(PlatformKind::Console, "local"),
            1,
        )
        .await
        .expect("query")
        .expect("INC-1");
        let channel = incident.channel_id.clone().expect("channel created");
        (incident.id, channel)
    };
    let work: Vec<_> = (0..12)
        .map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            let text = if i % 3 == 0 {
                "postmortem".to_owned()
            } else {
                format!("followup add fix thing {i}")
            };
            say(app, "alice", &channel, &text, None)
        })
        .collect();
    for reply in futures_util::future::join_all(work).await {
        ok(&reply);
    }
    let mut conn = a.store.read().await.expect("read");
    let items = klaxon::store::postmortems::followups(&mut conn, incident)
        .await
        .expect("followups");
    let mut numbers: Vec<i64> = items.iter().map(|f| f.item).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
    let latest = klaxon::store::postmortems::get(&mut conn, incident, None)
        .await
        .expect("postmortem")
        .expect("drafted");
    assert_eq!(latest.version, 4, "four drafts, versions 1 to 4");
    drop(conn);
    a.store.close().await;
    b.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_delivery_handed_to_two_replicas_at_once_has_one_effect() {
    let (_pg, a, b) = two_replicas().await;

    for round in 0..8 {
        let delivery = format!("Ev0RETRY{round}");
        let text = format!("declare sev3 retried {round}");
        let (first, second) = tokio::join!(
            say(&a, "alice", "C0PAGING", &text, Some(&delivery)),
            say(&b, "alice", "C0PAGING", &text, Some(&delivery)),
        );
        assert_eq!(ok(&first), ok(&second), "both replicas give the one answer");
    }
    let mut conn = a.store.read().await.expect("read");
    let open =
        klaxon::store::incidents::open(&mut conn, &Tenant::new(PlatformKind::Console, "local"))
            .await
            .expect("open incidents");
    assert_eq!(open.len(), 8, "one incident per delivery: {open:?}");
    drop(conn);
    a.store.close().await;
    b.store.close().await;
}
