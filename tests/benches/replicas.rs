//! Replicas benchmark (issue #16): the Slack benchmark's 200 declares, 20 in flight, against the
//! fake Slack answering at once, on SQLite (one process), on PostgreSQL with one replica, and on
//! PostgreSQL with two replicas sharing the database, the declares sent to them in turn.
//!
//! Runs the real `klaxon` binary (release) in HTTP mode. PostgreSQL is a private cluster
//! started for the run (Debian's server binaries, as the tests use), durable as in production
//! (fsync and synchronous commit on, as SQLite's `synchronous = FULL`). Reports the slash-command answer latency (p50/p99), the time from the command to
//! its `conversations.create` at the fake (p50/p99), declares answered per second, each
//! replica's resident memory after the run and the CPU time all replicas spent per declare
//! (user + system, from `/proc`), and checks that every incident got one channel and one
//! announcement (no call made twice by two replicas).
//!
//! Run: `cargo bench -p klaxon-tests --bench replicas` (`-- sqlite` for the SQLite row alone;
//! `KLAXON_BENCH_BIN=<path>` measures another build of `klaxon`, one of an earlier commit, say).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_tests::fake_slack::{self, BOT_TOKEN, FakeSlack, SIGNING_SECRET};
use klaxon_tests::postgres::Postgres;

mod common;

use common::{declare_number, pct, rss_mib, until_quiet};

const DECLARES: usize = 200;
const IN_FLIGHT: usize = 20;

struct Replica {
    child: Child,
    url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time (user + system) the process has used, from `/proc/<pid>/stat`.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hz = 100; // USER_HZ on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

async fn start(
    bin: &std::path::Path,
    fake: &FakeSlack,
    db: &str,
    dir: &std::path::Path,
) -> Replica {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(bin)
        .args(["run", "--db", db])
        .current_dir(dir)
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("SLACK_API_URL", &fake.api_url)
        .env("KLAXON_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start klaxon");
    let url = format!("http://127.0.0.1:{port}");
    let ready = klaxon_tests::wait::eventually(Duration::from_secs(30), async || {
        reqwest::get(format!("{url}/readyz"))
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert!(ready, "klaxon on {db} is ready");
    Replica { child, url }
}

async fn round(bin: &std::path::Path, label: &str, db: &str, replicas: usize) {
    let dir = tempfile::tempdir().expect("tmp");
    let fake = FakeSlack::start().await;
    let mut bots = Vec::new();
    for _ in 0..replicas {
        bots.push(start(bin, &fake, db, dir.path()).await);
    }
    let cpu_before: Duration = bots.iter().map(|b| cpu(b.child.id())).sum();
    let urls: Arc<Vec<String>> = Arc::new(bots.iter().map(|b| b.url.clone()).collect());
    let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..DECLARES {
        let (urls, sem) = (Arc::clone(&urls), Arc::clone(&sem));
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            let (sent, took, _) =
                fake_slack::bench_declare(&urls[n % urls.len()], "Bench outage", n).await;
            (n, sent, took)
        }));
    }
    let mut answers = Vec::new();
    let mut sent_at = vec![started; DECLARES];
    for t in tasks {
        let (n, sent, took) = t.await.expect("task");
        sent_at[n] = sent;
        answers.push(took);
    }
    let all_answered = started.elapsed();
    let announced = |calls: &[fake_slack::ApiCall]| {
        calls
            .iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.error.is_none()
                    && matches!(
                        c.body["channel"].as_str(),
                        Some("incidents" | "#incidents" | fake_slack::INCIDENTS)
                    )
            })
            .count()
    };
    let done = klaxon_tests::wait::until(Duration::from_secs(120), || {
        let calls = fake.calls();
        calls
            .iter()
            .filter(|c| c.method == "conversations.create" && c.error.is_none())
            .count()
            >= DECLARES
            && announced(&calls) >= DECLARES
    })
    .await;
    assert!(done, "every incident gets its channel and announcement");
    let calls = fake.calls();
    let mut to_channel: Vec<Duration> = calls
        .iter()
        .filter(|c| c.method == "conversations.create" && c.error.is_none())
        .filter_map(|c| {
            let name = c.body["name"].as_str()?.to_owned();
            let n = declare_number(&name)?;
            Some(c.at.saturating_duration_since(sent_at[n]))
        })
        .collect();
    // Let the outbox finish the remaining calls (pins, edits) before counting and reading memory.
    until_quiet(
        || fake.calls().len(),
        Instant::now() + Duration::from_secs(300),
    )
    .await;
    let calls = fake.calls();
    let creates = calls
        .iter()
        .filter(|c| c.method == "conversations.create" && c.error.is_none())
        .count();
    let announcements = announced(&calls);
    let cpu_after: Duration = bots.iter().map(|b| cpu(b.child.id())).sum();
    let rss: Vec<String> = bots
        .iter()
        .map(|b| rss_mib(b.child.id()).map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1}")))
        .collect();
    answers.sort_unstable();
    to_channel.sort_unstable();
    println!(
        "| {label} | {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.0} | {} MiB | {:.2} ms | {creates} / {announcements} |",
        pct(&answers, 50.0),
        pct(&answers, 99.0),
        pct(&to_channel, 50.0),
        pct(&to_channel, 99.0),
        DECLARES as f64 / all_answered.as_secs_f64(),
        rss.join(" + "),
        (cpu_after - cpu_before).as_secs_f64() * 1000.0 / DECLARES as f64,
    );
}

#[tokio::main]
async fn main() {
    let bin = klaxon_tests::binary::klaxon_release();
    println!("\n{DECLARES} declares, {IN_FLIGHT} in flight, fake Slack answering at once:\n");
    println!(
        "| store | answer p50 / p99 | to channel p50 / p99 | declares/s | RSS after | CPU per declare | channels / announcements |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let sqlite = tempfile::tempdir().expect("tmp");
    let file = sqlite.path().join("bench.db");
    round(&bin, "SQLite, 1 process", file.to_str().expect("utf-8"), 1).await;
    if std::env::args().any(|a| a == "sqlite") {
        return;
    }
    let pg = tokio::task::spawn_blocking(Postgres::start_durable)
        .await
        .expect("join")
        .expect("a private PostgreSQL cluster starts");
    let one = pg.database("one_replica").await.expect("database");
    round(&bin, "PostgreSQL, 1 replica", &one, 1).await;
    let two = pg.database("two_replicas").await.expect("database");
    round(&bin, "PostgreSQL, 2 replicas", &two, 2).await;
    drop(tokio::task::spawn_blocking(move || drop(pg)).await);
}
