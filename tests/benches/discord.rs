//! Discord benchmark: 200 declares against the fake Discord on 127.0.0.1.
//!
//! Runs the real `klaxon` binary (release) connected to the fake Discord's gateway, and sends
//! `/inc declare` interactions as INTERACTION_CREATE dispatches: one at a time and 20 in flight
//! with the fake's REST answering at once, then 20 in flight with 50 ms added to every REST
//! call. Reports the interaction → first
//! response latency (p50/p95/p99, measured at the fake: dispatch sent → callback received), the
//! time from the interaction to the channel's creation reaching Discord and to the last REST
//! call of the incident's setup (any call on its channel, and the announcement edit linking
//! it), interactions per second, and the bot's resident memory idle and after.
//!
//! Run: `cargo bench -p klaxon-tests --bench discord`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use klaxon_tests::fake_discord::{self, FakeDiscord, GENERAL, GUILD, PAGING};
use serde_json::json;

mod common;

use common::{declare_number, pct, rss_mib, until_quiet};

const DECLARES: usize = 200;
const IN_FLIGHT: usize = 20;

struct Bot {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(bin: &std::path::Path, fake: &FakeDiscord) -> Bot {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("klaxon.toml"),
        format!("checklist = []\n[discord]\npaging_channel = \"{PAGING}\"\n"),
    )
    .expect("config");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new(bin)
        .args([
            "run",
            "--db",
            dir.path().join("bench.db").to_str().expect("utf-8"),
        ])
        .current_dir(dir.path())
        .env("DISCORD_TOKEN", fake_discord::TOKEN)
        .env("DISCORD_APPLICATION_ID", fake_discord::APPLICATION_ID)
        .env("DISCORD_GUILD_IDS", GUILD)
        .env("DISCORD_API_URL", &fake.api_url)
        .env("KLAXON_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start klaxon");
    assert!(
        fake.until(FakeDiscord::connected).await,
        "klaxon did not connect to the fake gateway"
    );
    Bot { child, _dir: dir }
}

async fn round(bin: &std::path::Path, latency: Duration, in_flight: usize) {
    let fake = FakeDiscord::start().await;
    fake.set_latency(latency);
    let bot = start(bin, &fake).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mib(bot.child.id());
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..DECLARES {
        let (fake, sem) = (fake.clone(), std::sync::Arc::clone(&sem));
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            let interaction = fake_discord::slash(
                &format!("{}", 410_000_000_000_000_000u64 + n as u64),
                "100000000000000001",
                GENERAL,
                "declare",
                json!([
                    { "name": "title", "type": 3, "value": format!("Bench outage {n:03}") },
                    { "name": "severity", "type": 3, "value": "sev2" }
                ]),
            );
            let sent = Instant::now();
            let response = fake.interact(interaction).await;
            assert_eq!(response["type"], 4, "{response}");
            (n, sent, sent.elapsed())
        }));
    }
    let mut firsts = Vec::new();
    let mut sent_at = vec![started; DECLARES];
    for t in tasks {
        let (n, sent, took) = t.await.expect("task");
        sent_at[n] = sent;
        firsts.push(took);
    }
    let all_answered = started.elapsed();
    let created = || fake.calls_to("POST", &format!("/guilds/{GUILD}/channels"));
    let deadline = Instant::now() + Duration::from_secs(180);
    while created().len() < DECLARES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_created = started.elapsed();
    let mut to_channel: Vec<Duration> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == format!("/guilds/{GUILD}/channels"))
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
    firsts.sort_unstable();
    to_channel.sort_unstable();
    let mib = |m: Option<f64>| m.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1} MiB"));
    println!(
        "| {in_flight} in flight, {} ms | {:.1} / {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.0} / {:.0} ms | {:.0} | {:.1} s | {} → {} |",
        latency.as_millis(),
        pct(&firsts, 50.0),
        pct(&firsts, 95.0),
        pct(&firsts, 99.0),
        pct(&to_channel, 50.0),
        pct(&to_channel, 99.0),
        pct(&to_last, 50.0),
        pct(&to_last, 99.0),
        DECLARES as f64 / all_answered.as_secs_f64(),
        all_created.as_secs_f64(),
        mib(idle),
        mib(after),
    );
}

/// For each declare, the time from its interaction to the last REST call the fake received for
/// its incident: any call on its channel (posts, pins, edits) and the edit of its announcement
/// that links the channel (`<#id>`), sorted.
fn last_setup_calls(fake: &FakeDiscord, sent_at: &[Instant]) -> Vec<Duration> {
    let calls = fake.calls();
    let create = format!("/guilds/{GUILD}/channels");
    let mut last = Vec::new();
    for made in calls
        .iter()
        .filter(|c| c.method == "POST" && c.path == create)
    {
        let Some(name) = made.body["name"].as_str() else {
            continue;
        };
        let Some(n) = declare_number(name) else {
            continue;
        };
        let Some(id) = fake.channel_named(name).map(|c| c.id) else {
            continue;
        };
        let on_channel = format!("/channels/{id}/");
        let link = format!("<#{id}>");
        let end = calls
            .iter()
            .filter(|c| c.path.starts_with(&on_channel) || c.body.to_string().contains(&link))
            .map(|c| c.at)
            .chain([made.at])
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
    println!("{DECLARES} declares against the fake Discord:\n");
    println!(
        "| declares in flight, added REST latency | first response p50 / p95 / p99 | interaction → channel created p50 / p99 | interaction → last setup call p50 / p99 | declares/s (answered) | all channels created after | bot RSS idle → after |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    round(&bin, Duration::ZERO, 1).await;
    round(&bin, Duration::ZERO, IN_FLIGHT).await;
    round(&bin, Duration::from_millis(50), IN_FLIGHT).await;
}
