//! Several replicas on one PostgreSQL database (issue #16): each platform call is claimed
//! before it is made and each due reminder inside its firing, so two replicas taking commands
//! alternately make every post and fire every reminder exactly once, in each channel's order,
//! the same as one replica does; a replica that dies holding a claim holds its lane until the
//! lease passes, then the survivor makes the call, once.
//!
//! These tests always run on PostgreSQL: on the run's server when the suite is pointed at one
//! (`KLAXON_TEST_POSTGRES`), otherwise on a private cluster of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use klaxon::clock::{Clock as _, ManualClock};
use klaxon::config::Config;
use klaxon::scheduler::Fired;
use klaxon::store::{self, Store};
use klaxon_commands::{ChannelRef, Message, PlatformKind, Tenant};
use klaxon_tests::postgres::Postgres;
use klaxon_tests::{Call, Recorder, TestBot, database, start_time};

mod firing;

/// Where these tests' databases are: the run's PostgreSQL server, or a private cluster.
struct Server {
    cluster: Option<Postgres>,
    dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        let cluster = if database::on_postgres() {
            None
        } else {
            let pg = tokio::task::spawn_blocking(Postgres::start)
                .await
                .expect("join")
                .expect("a private PostgreSQL cluster starts");
            Some(pg)
        };
        Self {
            cluster,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A new empty database called `name` (lower-case letters).
    async fn database(&self, name: &str) -> String {
        match &self.cluster {
            Some(pg) => pg.database(name).await.expect("create a database"),
            None => database::at(self.dir.path(), name).await,
        }
    }

    /// Stops a private cluster (pg_ctl blocks, so off the runtime's threads).
    async fn stop(self) {
        drop(tokio::task::spawn_blocking(move || drop(self)).await);
    }
}

/// Replicas on the database `db`, one per owner, sharing one manual clock and one platform.
async fn replicas(
    db: &str,
    owners: &[&str],
    config: &Config,
) -> (ManualClock, Arc<Recorder>, Vec<TestBot>) {
    let clock = ManualClock::new(start_time());
    let api = Arc::new(Recorder::default());
    let mut bots = Vec::new();
    for owner in owners {
        bots.push(
            TestBot::replica(db, clock.clone(), Arc::clone(&api), config.clone(), owner).await,
        );
    }
    (clock, api, bots)
}

/// Calls still pending in the shared database.
async fn pending(bot: &TestBot) -> i64 {
    let mut conn = bot.store().read().await.expect("conn");
    store::outbox::pending_count(&mut conn)
        .await
        .expect("count")
}

/// Every replica settles at once (fires what is due, makes the calls), until no call is left:
/// a replica that found a lane held by another leaves it to the other, and the next round
/// makes what was queued behind it.
async fn settle_all(bots: &[TestBot]) -> Vec<Fired> {
    let mut fired = Vec::new();
    for _ in 0..100 {
        let rounds = futures_util::future::join_all(bots.iter().map(|b| b.app.settle())).await;
        for round in rounds {
            fired.extend(round.expect("settle"));
        }
        if pending(&bots[0]).await == 0 {
            return fired;
        }
    }
    panic!(
        "calls still pending after 100 rounds: {}",
        pending(&bots[0]).await
    );
}

/// Moves the shared clock forward by `by`, stopping at each due time on the way as
/// `App::advance` does, with every replica settling at once at each stop.
async fn advance_all(clock: &ManualClock, bots: &[TestBot], by: Duration) -> Vec<Fired> {
    let target = klaxon::clock::after(clock.now(), by);
    let mut fired = settle_all(bots).await;
    loop {
        let mut next: Option<DateTime<Utc>> = None;
        for bot in bots {
            if let Some(due) = bot.app.scheduler.next_due().await.expect("next due") {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        let Some(due) = next.filter(|due| *due <= target) else {
            break;
        };
        if due > clock.now() {
            clock.set(due);
        }
        fired.extend(settle_all(bots).await);
    }
    clock.set(target);
    fired.extend(settle_all(bots).await);
    fired
}

/// The replica that takes the `n`th command: they take turns.
fn turn(bots: &[TestBot], n: usize) -> &TestBot {
    &bots[n % bots.len()]
}

/// Declares, notes, updates and acknowledgements sent to the replicas in turn, some settled
/// one by one and some in bursts, with the clock moved past reminders' due times (status
/// updates, escalation pages, checklist nudges). Returns every firing.
async fn script(clock: &ManualClock, bots: &[TestBot]) -> Vec<Fired> {
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    let titles = ["Checkout errors", "Login slow", "Search down", "API 500s"];
    for (i, title) in titles.iter().enumerate() {
        let sev = 1 + i % 3;
        turn(bots, next())
            .ok(
                "alice",
                "general",
                &format!("/inc declare sev{sev} {title}"),
            )
            .await;
    }
    let mut fired = settle_all(bots).await;
    let mut channels = Vec::new();
    for number in 1..=4 {
        channels.push(bots[0].channel_of(number).await);
    }
    // A burst: notes and updates in every channel, nothing made until the end.
    for round in 0..3 {
        for (i, ch) in channels.iter().enumerate() {
            turn(bots, next())
                .ok(
                    "bob",
                    ch,
                    &format!("/inc note step {round} of incident {i}"),
                )
                .await;
            turn(bots, next())
                .ok(
                    "alice",
                    ch,
                    &format!("/inc update round {round}: still looking"),
                )
                .await;
        }
    }
    fired.extend(settle_all(bots).await);
    turn(bots, next())
        .ok("alice", &channels[0], "/inc ack")
        .await;
    fired.extend(advance_all(clock, bots, Duration::from_secs(20 * 60)).await);
    // One by one, each settled before the next.
    for (i, ch) in channels.iter().enumerate().skip(1) {
        turn(bots, next())
            .ok("carol", ch, &format!("/inc note later note {i}"))
            .await;
        fired.extend(settle_all(bots).await);
    }
    fired.extend(advance_all(clock, bots, Duration::from_secs(75 * 60)).await);
    fired
}

/// A firing, comparable across runs.
type Firing = (i64, &'static str, i64, DateTime<Utc>, DateTime<Utc>, bool);

fn firings(fired: &[Fired]) -> Vec<Firing> {
    let mut out: Vec<Firing> = fired
        .iter()
        .map(|f| {
            (
                f.incident_id,
                f.kind.as_str(),
                f.item,
                f.due_at,
                f.fired_at,
                f.posted,
            )
        })
        .collect();
    out.sort_unstable();
    out
}

/// The reminders table: each schedule's state, due time and fire count.
async fn reminder_rows(bot: &TestBot) -> Vec<(i64, String, i64, String, String, i64)> {
    let mut conn = bot.store().read().await.expect("conn");
    sqlx::query_as(
        "SELECT incident_id, kind, item, due_at, state, fired FROM reminders \
         ORDER BY incident_id, kind, item",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("reminders")
}

/// Calls done in the shared database.
async fn done_calls(bot: &TestBot) -> i64 {
    let mut conn = bot.store().read().await.expect("conn");
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'done'")
        .fetch_one(&mut *conn)
        .await
        .expect("count")
}

/// Posts by channel, each channel's in the order they were made.
fn posts_by_channel(api: &Recorder) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for call in api.calls() {
        if let Call::Post {
            channel, message, ..
        } = call
        {
            out.entry(channel).or_default().push(message.to_plain());
        }
    }
    out
}

/// Asks the platform once per call: no call repeated (a post asked again with its key would
/// count an attempt the recorder does not record), none made that the table does not hold
/// as done once.
async fn each_call_once(bot: &TestBot, api: &Recorder, who: &str) {
    let calls = api.calls();
    assert_eq!(
        api.attempts(),
        calls.len() as u64,
        "{who}: a call was asked twice: {calls:#?}"
    );
    assert_eq!(
        done_calls(bot).await,
        calls.len() as i64,
        "{who}: calls made ≠ calls done: {calls:#?}"
    );
    assert_eq!(pending(bot).await, 0, "{who}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_taking_commands_in_turn_post_and_remind_exactly_once_in_order() {
    let server = Server::start().await;
    let config = Config::default();
    // What one replica does with the script: the reference.
    let alone_db = server.database("alone").await;
    let (clock, alone_api, alone) = replicas(&alone_db, &["alone"], &config).await;
    let alone_fired = script(&clock, &alone).await;
    // Two replicas on one database, taking the same commands in turn.
    let shared_db = server.database("shared").await;
    let (clock, api, pair) = replicas(&shared_db, &["replica-a", "replica-b"], &config).await;
    let fired = script(&clock, &pair).await;

    each_call_once(&alone[0], &alone_api, "one replica").await;
    each_call_once(&pair[0], &api, "two replicas").await;
    // Every reminder fired once: no due time fired twice, and the same firings as one replica.
    let once: BTreeSet<(i64, &str, i64, DateTime<Utc>)> = fired
        .iter()
        .map(|f| (f.incident_id, f.kind.as_str(), f.item, f.due_at))
        .collect();
    assert_eq!(
        once.len(),
        fired.len(),
        "a reminder fired twice: {:#?}",
        firings(&fired)
    );
    assert!(
        fired.iter().filter(|f| f.posted).count() >= 8,
        "the script fires reminders: {:#?}",
        firings(&fired)
    );
    assert_eq!(firings(&fired), firings(&alone_fired));
    assert_eq!(
        reminder_rows(&pair[0]).await,
        reminder_rows(&alone[0]).await
    );
    // Every post made once, in every channel, and each channel's posts in the order one
    // replica made them, but for reminders due at the same instant (a status reminder and a
    // checklist nudge, two incidents' pages): either replica fires them at once, so which is
    // queued first is not defined (one replica fires them in id order). What commands posted
    // keeps its order exactly, and so does each incident's posts in the paging channel.
    let posts = posts_by_channel(&api);
    let alone_posts = posts_by_channel(&alone_api);
    let sorted = |posts: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
        let mut posts = posts.clone();
        posts.values_mut().for_each(|p| p.sort());
        posts
    };
    assert_eq!(sorted(&posts), sorted(&alone_posts));
    let commanded = |posts: &BTreeMap<String, Vec<String>>| -> BTreeMap<String, Vec<String>> {
        let mut posts = posts.clone();
        posts
            .values_mut()
            .for_each(|p| p.retain(|p| !p.starts_with('⏰') && !p.starts_with('📟')));
        posts
    };
    assert_eq!(commanded(&posts), commanded(&alone_posts));
    assert!(posts["incidents"].len() >= 4, "{posts:#?}");
    for number in 1..=4 {
        let of = |posts: &BTreeMap<String, Vec<String>>| -> Vec<String> {
            let key = format!("INC-{number} ");
            posts["incidents"]
                .iter()
                .filter(|p| p.contains(&key))
                .cloned()
                .collect()
        };
        assert_eq!(of(&posts), of(&alone_posts), "INC-{number}'s paging posts");
    }
    let created: BTreeSet<String> = api.created().into_iter().collect();
    assert_eq!(
        created.len(),
        4,
        "one channel per incident: {:?}",
        api.created()
    );
    for bot in alone.iter().chain(&pair) {
        bot.store().close().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_dies_mid_call_holds_its_lane_until_the_lease_passes_then_the_survivor_makes_it_once()
 {
    let server = Server::start().await;
    let db = server.database("takeover").await;
    let config = Config::parse("checklist = []").expect("config");
    let (clock, api, mut bots) = replicas(&db, &["dying", "survivor"], &config).await;
    let survivor = bots.pop().expect("survivor");
    let dying = bots.pop().expect("dying");
    let channel = "inc-2026-11-23-checkout-errors";
    // The dying replica takes the declare and claims its channel creation, which never
    // answers: it dies in the middle of that call.
    api.hang_create_of(channel);
    dying
        .ok("alice", "general", "/inc declare sev2 Checkout errors")
        .await;
    let dispatcher = Arc::clone(&dying.app.dispatcher);
    let mid_call = tokio::spawn(async move { dispatcher.drain().await });
    assert!(
        klaxon_tests::wait::eventually(klaxon_tests::wait::LIMIT, async || {
            let mut conn = survivor.store().read().await.expect("conn");
            let calls = store::outbox::pending(&mut conn, &[PlatformKind::Console], 100)
                .await
                .expect("pending");
            let attempts = store::outbox::channel_attempts(&mut conn, calls[0].id)
                .await
                .expect("attempts");
            calls[0].claim.as_ref().is_some_and(|c| c.owner == "dying") && !attempts.is_empty()
        })
        .await,
        "the dying replica claimed the creation and asked for the channel"
    );
    mid_call.abort();
    drop(dying);
    // The survivor leaves the claimed lane alone while the lease holds, however often it
    // looks, and makes what it may meanwhile (the announcement, in its own lane).
    for _ in 0..3 {
        survivor.settle().await;
    }
    assert!(api.created().is_empty(), "{:#?}", api.calls());
    assert_eq!(api.posts_in("incidents").len(), 1, "{:#?}", api.calls());
    let lease = survivor.app.dispatcher.lease();
    clock.advance(lease - Duration::from_secs(1));
    survivor.settle().await;
    assert!(
        api.created().is_empty(),
        "the lease still holds: {:#?}",
        api.calls()
    );
    // What `/readyz` and `/metrics` count as each replica's lanes: the dead one holds its one.
    let held = |bot: &TestBot| {
        let store = bot.store().clone();
        let now = clock.now();
        async move {
            let mut conn = store.read().await.expect("conn");
            store::outbox::held(&mut conn, now).await.expect("held")
        }
    };
    assert_eq!(held(&survivor).await, [("dying".to_owned(), 1)]);
    // Past the lease, the survivor takes the call over and makes it once, then the rest of
    // the lane in order.
    clock.advance(Duration::from_secs(2));
    for _ in 0..5 {
        survivor.settle().await;
        if pending(&survivor).await == 0 {
            break;
        }
    }
    assert_eq!(api.created(), [channel]);
    assert!(held(&survivor).await.is_empty(), "every claim ended");
    let calls = api.calls();
    let in_channel: Vec<&str> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Post { channel: ch, .. } if ch == channel => Some("post"),
            Call::Pin { channel: ch, .. } if ch == channel => Some("pin"),
            _ => None,
        })
        .collect();
    assert_eq!(in_channel, ["post", "pin"], "{calls:#?}");
    assert_eq!(api.posts_in("incidents").len(), 1, "{calls:#?}");
    // The announcement went out before the channel existed: one edit names it now.
    assert_eq!(api.edits_in("incidents").len(), 1, "{calls:#?}");
    assert_eq!(pending(&survivor).await, 0);
    survivor.store().close().await;
    server.stop().await;
}

/// A post to the paging channel, queued in its own transaction; its outbox id.
async fn queue_post(store: &Store, text: &str) -> i64 {
    let op = klaxon::outbox::Op::Post {
        to: klaxon::outbox::Target::Channel(ChannelRef::new("incidents", "incidents")),
        message: Message::new().line(klaxon_commands::Rich::plain(text)),
        track: None,
        timeline_entry: None,
    };
    let mut tx = store.begin().await.expect("begin");
    klaxon::outbox::enqueue(
        &mut tx,
        &Tenant::new(PlatformKind::Console, "local"),
        None,
        &op,
        start_time(),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    let mut conn = store.read().await.expect("conn");
    let calls = store::outbox::pending(&mut conn, &[PlatformKind::Console], 1000)
        .await
        .expect("pending");
    calls.last().expect("queued").id
}

/// Claims call `id` as `owner` at `now`, for a lease of a minute, in a transaction of its own.
async fn claim(store: &Store, id: i64, owner: &str, now: DateTime<Utc>) -> bool {
    let mut tx = store.begin().await.expect("begin");
    let until = now + chrono::Duration::minutes(1);
    let took = store::outbox::claim(&mut tx, id, owner, now, until)
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    took.is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_claims_of_one_call_at_once_one_wins_and_a_lapsed_claim_is_taken_over_for_good() {
    let server = Server::start().await;
    let db = server.database("claims").await;
    // Two stores: two writers on two connections, as two processes have.
    let a = Store::open(&db).await.expect("store a");
    let b = Store::open(&db).await.expect("store b");
    let now = start_time();
    for n in 0..20 {
        let id = queue_post(&a, &format!("page {n}")).await;
        let (took_a, took_b) = tokio::join!(claim(&a, id, "a", now), claim(&b, id, "b", now));
        assert!(
            took_a ^ took_b,
            "call {id}: exactly one claim takes ({took_a}, {took_b})"
        );
        let (winner, loser) = if took_a { ("a", "b") } else { ("b", "a") };
        // The winner may claim its own call again; the loser may not while the lease holds.
        assert!(claim(&a, id, winner, now).await);
        assert!(!claim(&b, id, loser, now + chrono::Duration::seconds(59)).await);
        // Past the lease (its holder died mid-call) the other takes it over.
        assert!(claim(&b, id, loser, now + chrono::Duration::seconds(61)).await);
        // The first holder's late failure is not recorded over the new holder's claim.
        let mut tx = a.begin().await.expect("begin");
        let later = now + chrono::Duration::minutes(5);
        let put_off = store::outbox::retry_later(&mut tx, id, winner, "late", later)
            .await
            .expect("retry");
        let failed = store::outbox::mark_failed(&mut tx, id, Some(winner), "late", now)
            .await
            .expect("failed");
        tx.commit().await.expect("commit");
        assert!(!put_off && !failed, "call {id}: {loser}'s now");
        assert!(!claim(&a, id, winner, now + chrono::Duration::seconds(62)).await);
        // Done, it is nobody's to claim, and holds no claim.
        let mut tx = a.begin().await.expect("begin");
        store::outbox::mark_done(&mut tx, id, now)
            .await
            .expect("done");
        tx.commit().await.expect("commit");
        assert!(!claim(&a, id, winner, now + chrono::Duration::hours(1)).await);
    }
    let mut conn = a.read().await.expect("conn");
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE owner IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    assert_eq!(held, 0, "finishing a call clears its claim");
    drop(conn);
    a.close().await;
    b.close().await;
    server.stop().await;
}
