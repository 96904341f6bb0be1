//! Slack benchmark: 200 declares against the fake Slack on 127.0.0.1.
//!
//! Runs the real `klaxon` binary (release), pointed at the fake Slack, and sends it `/inc
//! declare` commands: signed over HTTP, then as `slash_commands` envelopes over Socket Mode,
//! each one at a time and 20 in flight, with the fake answering at once; then over HTTP, 20 in
//! flight, with 50 ms added to every Web API call. Reports the answer latency (p50/p95/p99: the
//! HTTP response, or the envelope's acknowledgement, which carries the reply), the time from the
//! command to `conversations.create` reaching Slack and to the last call of the incident's
//! setup (any call in its channel, and the edit linking the channel in its announcement),
//! declares per second, and the bot's resident memory idle and after.
//!
//! Then the tier-limited case (`tiers`): 50 declares, 20 in flight, against the fake enforcing
//! Slack's published limits at Slack's own pace (`conversations.create` Tier 2, 20 a minute
//! with a minute's burst; `chat.postMessage` one a second per channel, bursts of 3). Reports
//! the 429s the fake answered per method, the time from each command to its announcement in
//! the paging channel and to its channel (p50/p99), whether the announcements were posted and
//! the channels created in incident order (the incident number each declare's answer named:
//! with 20 in flight the declares are committed in an order of their own, which the outbox
//! keeps), and the outbox's failed calls. Takes about two minutes.
//!
//! Run: `cargo bench -p klaxon-tests --bench slack` (`-- tiers` for the tier-limited case
//! alone; `KLAXON_BENCH_SOCKETS=<n>` for n Socket Mode connections, `slack.socket_connections`).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_tests::fake_slack::{self, BOT_TOKEN, FakeSlack, SIGNING_SECRET};

mod common;

use common::{declare_number, pct, rss_mib, until_quiet};

const DECLARES: usize = 200;
const IN_FLIGHT: usize = 20;

struct Bot {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the declares reach Klaxon.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// Signed slash commands over HTTP.
    Http,
    /// `slash_commands` envelopes over the Socket Mode WebSocket, acknowledged on it.
    Socket,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Socket => "Socket Mode",
        }
    }
}

async fn start(bin: &std::path::Path, fake: &FakeSlack) -> Bot {
    start_with(bin, fake, Transport::Http).await
}

async fn start_with(bin: &std::path::Path, fake: &FakeSlack, transport: Transport) -> Bot {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    // `KLAXON_BENCH_SOCKETS=<n>`: the bot holds n Socket Mode connections
    // (`slack.socket_connections`) instead of its default.
    let sockets = std::env::var("KLAXON_BENCH_SOCKETS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok());
    if let Some(n) = sockets {
        std::fs::write(
            dir.path().join("klaxon.toml"),
            format!("[slack]\nsocket_connections = {n}\n"),
        )
        .expect("klaxon.toml");
    }
    let mut command = Command::new(bin);
    command
        .args([
            "run",
            "--db",
            dir.path().join("bench.db").to_str().expect("utf-8"),
        ])
        .current_dir(dir.path())
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("SLACK_API_URL", &fake.api_url)
        .env("KLAXON_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if transport == Transport::Socket {
        command.env("SLACK_APP_TOKEN", fake_slack::APP_TOKEN);
    }
    let child = command.spawn().expect("start klaxon");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{url}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    if transport == Transport::Socket {
        // Every connection Klaxon opens (an older build opens fewer: 10 s at most).
        let all = sockets
            .unwrap_or_else(|| usize::try_from(klaxon_slack::socket::CONNECTIONS).unwrap_or(1));
        for _ in 0..400 {
            if fake.open_sockets() >= all {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    Bot { child, url, dir }
}

/// One declare over Socket Mode, like [`fake_slack::bench_declare`] over HTTP: when it was
/// sent and how long its acknowledgement took.
async fn socket_declare(fake: &FakeSlack, n: usize) -> (Instant, Duration) {
    let sent = Instant::now();
    let text = format!("declare sev2 Bench outage {n:03}");
    let reply = fake
        .socket_command(klaxon_tests::spawn::slack::socket_command(
            "C0GENERAL",
            &text,
            &format!("bench-{n}"),
        ))
        .await;
    let took = sent.elapsed();
    assert!(!reply.is_null(), "declare {n} acknowledged with a reply");
    (sent, took)
}

async fn round(bin: &std::path::Path, latency: Duration, transport: Transport, in_flight: usize) {
    let fake = Arc::new(FakeSlack::start().await);
    fake.set_latency(latency);
    let bot = start_with(bin, &fake, transport).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mib(bot.child.id());
    let url = Arc::new(bot.url.clone());
    let sem = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..DECLARES {
        let (url, sem, fake) = (Arc::clone(&url), Arc::clone(&sem), Arc::clone(&fake));
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            let (sent, took) = match transport {
                Transport::Http => {
                    let (sent, took, _) = fake_slack::bench_declare(&url, "Bench outage", n).await;
                    (sent, took)
                }
                Transport::Socket => socket_declare(&fake, n).await,
            };
            (n, sent, took)
        }));
    }
    let mut acks = Vec::new();
    let mut sent_at = vec![started; DECLARES];
    for t in tasks {
        let (n, sent, took) = t.await.expect("task");
        sent_at[n] = sent;
        acks.push(took);
    }
    let all_acked = started.elapsed();
    // Wait for every channel to exist at the fake.
    let deadline = Instant::now() + Duration::from_secs(120);
    while fake.calls_to("conversations.create").len() < DECLARES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_created = started.elapsed();
    let mut to_channel: Vec<Duration> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "conversations.create")
        .filter_map(|c| {
            let name = c.body["name"].as_str()?.to_owned();
            let n = declare_number(&name)?;
            Some(c.at.saturating_duration_since(sent_at[n]))
        })
        .collect();
    // Let the outbox finish the remaining calls: until no call has come for half a second.
    until_quiet(|| fake.calls().len(), deadline).await;
    let after = rss_mib(bot.child.id());
    let to_last = last_setup_calls(&fake, &sent_at);
    acks.sort_unstable();
    to_channel.sort_unstable();
    let mib = |m: Option<f64>| m.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1} MiB"));
    println!(
        "| {}, {in_flight} in flight, {} ms | {:.1} / {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.0} | {:.1} s | {} → {} |",
        transport.name(),
        latency.as_millis(),
        pct(&acks, 50.0),
        pct(&acks, 95.0),
        pct(&acks, 99.0),
        pct(&to_channel, 50.0),
        pct(&to_channel, 99.0),
        pct(&to_last, 50.0),
        pct(&to_last, 99.0),
        DECLARES as f64 / all_acked.as_secs_f64(),
        all_created.as_secs_f64(),
        mib(idle),
        mib(after),
    );
}

/// What [`declares`] saw, by declare number.
struct Declared {
    /// When each declare was sent.
    sent_at: Vec<Instant>,
    /// How long its answer took.
    took: Vec<Duration>,
    /// The incident number its answer named (`INC-12`): with declares in flight side by side,
    /// the order they were committed in, which is the order the outbox keeps.
    incident: Vec<Option<usize>>,
}

/// Sends `count` signed declares, `IN_FLIGHT` at a time.
async fn declares(url: &str, count: usize, prefix: &str) -> Declared {
    let url = Arc::new(url.to_owned());
    let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::new();
    for n in 0..count {
        let (url, sem, prefix) = (Arc::clone(&url), Arc::clone(&sem), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            let (sent, took, answer) = fake_slack::bench_declare(&url, &prefix, n).await;
            (n, sent, took, incident_number(&answer))
        }));
    }
    let mut out = Declared {
        sent_at: vec![Instant::now(); count],
        took: vec![Duration::ZERO; count],
        incident: vec![None; count],
    };
    for t in tasks {
        let (n, sent, answer, incident) = t.await.expect("task");
        out.sent_at[n] = sent;
        out.took[n] = answer;
        out.incident[n] = incident;
    }
    out
}

/// The incident number in a text naming `INC-<n>`.
fn incident_number(text: &str) -> Option<usize> {
    let at = text.find("INC-")? + "INC-".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The declare number at the end of a channel name or an announcement's title.
fn number(text: &str, prefix: &str) -> Option<usize> {
    let at = text.find(prefix)? + prefix.len();
    text[at..]
        .trim_start_matches([' ', '-'])
        .get(..3)?
        .parse()
        .ok()
}

const TIER_DECLARES: usize = 50;

/// The tier-limited case: see the module's comment.
async fn tiers(bin: &std::path::Path) {
    let fake = FakeSlack::start().await;
    fake.enforce_rate_limits();
    let bot = start(bin, &fake).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let Declared {
        sent_at,
        took: mut answers,
        incident,
    } = declares(&bot.url, TIER_DECLARES, "Tier outage").await;
    let paging = |c: &fake_slack::ApiCall| {
        matches!(
            c.body["channel"].as_str(),
            Some("incidents" | "#incidents" | fake_slack::INCIDENTS)
        )
    };
    let ok_creates = |calls: &[fake_slack::ApiCall]| {
        calls
            .iter()
            .filter(|c| c.method == "conversations.create" && c.error.is_none())
            .count()
    };
    let announced = |calls: &[fake_slack::ApiCall]| {
        calls
            .iter()
            .filter(|c| c.method == "chat.postMessage" && c.error.is_none() && paging(c))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let calls = fake.calls();
        let done = ok_creates(&calls) >= TIER_DECLARES && announced(&calls) >= TIER_DECLARES;
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = fake.calls();
    let mut to_channel = Vec::new();
    let mut order = Vec::new();
    for c in calls
        .iter()
        .filter(|c| c.method == "conversations.create" && c.error.is_none())
    {
        if let Some(n) = c.body["name"]
            .as_str()
            .and_then(|t| number(t, "tier-outage"))
        {
            order.extend(incident[n]);
            to_channel.push(c.at.saturating_duration_since(sent_at[n]));
        }
    }
    let mut to_announcement = Vec::new();
    let mut announced_order = Vec::new();
    for c in calls
        .iter()
        .filter(|c| c.method == "chat.postMessage" && c.error.is_none() && paging(c))
    {
        let text = c.body["text"].as_str().unwrap_or("");
        if let Some(n) = number(text, "Tier outage") {
            announced_order.extend(incident_number(text));
            to_announcement.push(c.at.saturating_duration_since(sent_at[n]));
        }
    }
    // Let the outbox finish (edits) before counting what failed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let db = bot.dir.path().join("bench.db");
    let failed: i64 = {
        use sqlx::Connection as _;
        let url = format!("sqlite://{}?mode=ro", db.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("db");
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state = 'failed'")
            .fetch_one(&mut conn)
            .await
            .expect("count")
    };
    let out_of_order = |seen: &[usize]| seen.windows(2).filter(|w| w[1] < w[0]).count();
    let in_order = |seen: &[usize]| match out_of_order(seen) {
        0 => "yes".to_owned(),
        k => format!("no ({k} inversions)"),
    };
    answers.sort_unstable();
    to_channel.sort_unstable();
    to_announcement.sort_unstable();
    let p = |d: &[Duration], q: f64| {
        if d.is_empty() {
            "n/a".to_owned()
        } else {
            format!("{:.1} s", pct(d, q) / 1000.0)
        }
    };
    println!(
        "\n{TIER_DECLARES} declares, {IN_FLIGHT} in flight, the fake enforcing Slack's tiers:\n"
    );
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| answer p50 / p99 | {:.1} / {:.1} ms |",
        pct(&answers, 50.0),
        pct(&answers, 99.0)
    );
    println!(
        "| announcements posted | {} of {TIER_DECLARES}, in incident order: {} |",
        announced_order.len(),
        in_order(&announced_order)
    );
    println!(
        "| command → announcement p50 / p99 | {} / {} |",
        p(&to_announcement, 50.0),
        p(&to_announcement, 99.0)
    );
    println!(
        "| channels created | {} of {TIER_DECLARES}, in incident order: {} |",
        order.len(),
        in_order(&order)
    );
    println!(
        "| command → channel created p50 / p99 | {} / {} |",
        p(&to_channel, 50.0),
        p(&to_channel, 99.0)
    );
    for method in ["conversations.create", "chat.postMessage", "chat.update"] {
        println!(
            "| 429s answered, {method} | {} |",
            fake.rate_limited(method)
        );
    }
    println!("| outbox calls failed | {failed} |");
}

/// For each declare, the time from its command to the last call the fake received for its
/// incident: any call in its channel (topic, invite, posts, pin, summary edit) and the edit of
/// its announcement that links the channel, sorted.
fn last_setup_calls(fake: &FakeSlack, sent_at: &[Instant]) -> Vec<Duration> {
    let calls = fake.calls();
    let mut last = Vec::new();
    for create in calls.iter().filter(|c| c.method == "conversations.create") {
        let Some(name) = create.body["name"].as_str() else {
            continue;
        };
        let Some(n) = declare_number(name) else {
            continue;
        };
        let Some(id) = fake.channel_named(name).map(|c| c.id) else {
            continue;
        };
        let end = calls
            .iter()
            .filter(|c| {
                c.body["channel"].as_str() == Some(id.as_str())
                    || c.body["text"].as_str().is_some_and(|t| t.contains(&id))
            })
            .map(|c| c.at)
            .chain([create.at])
            .max();
        if let (Some(end), Some(sent)) = (end, sent_at.get(n)) {
            last.push(end.saturating_duration_since(*sent));
        }
    }
    last.sort_unstable();
    last
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let bin = klaxon_tests::binary::klaxon_release();
    if !std::env::args().any(|a| a == "tiers") {
        println!("{DECLARES} declares against the fake Slack:\n");
        println!(
            "| transport, declares in flight, added API latency | answer p50 / p95 / p99 | command → channel created p50 / p99 | command → last setup call p50 / p99 | declares/s (answered) | all channels created after | bot RSS idle → after |"
        );
        println!("| --- | --- | --- | --- | --- | --- | --- |");
        for transport in [Transport::Http, Transport::Socket] {
            round(&bin, Duration::ZERO, transport, 1).await;
            round(&bin, Duration::ZERO, transport, IN_FLIGHT).await;
        }
        round(&bin, Duration::from_millis(50), Transport::Http, IN_FLIGHT).await;
    }
    tiers(&bin).await;
}
