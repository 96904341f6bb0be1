//! Slack benchmark: 200 declares, 20 in flight, against the fake Slack on 127.0.0.1.
//!
//! Runs the real `klaxon` binary (release) in HTTP mode, pointed at the fake Slack, and sends
//! signed `/inc declare` commands. Twice: with the fake answering at once, and with 50 ms added
//! to every Web API call. Reports the slash-command answer latency (p50/p95/p99), the time from
//! the command to `conversations.create` reaching Slack, declares per second, and the bot's
//! resident memory idle and after.
//!
//! Run: `cargo bench -p klaxon-tests --bench slack`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_tests::fake_slack::{self, BOT_TOKEN, FakeSlack, SIGNING_SECRET};

mod common;

use common::{pct, rss_mib};

const DECLARES: usize = 200;
const IN_FLIGHT: usize = 20;

struct Bot {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(bin: &std::path::Path, fake: &FakeSlack) -> Bot {
    let dir = tempfile::tempdir().expect("tmp");
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
    for _ in 0..200 {
        if reqwest::get(format!("{url}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Bot {
        child,
        url,
        _dir: dir,
    }
}

async fn round(bin: &std::path::Path, latency: Duration) {
    let fake = FakeSlack::start().await;
    fake.set_latency(latency);
    let bot = start(bin, &fake).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mib(bot.child.id());
    let url = Arc::new(bot.url.clone());
    let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..DECLARES {
        let (url, sem) = (Arc::clone(&url), Arc::clone(&sem));
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.expect("semaphore");
            let sent = Instant::now();
            let title = format!("Bench outage {n:03}");
            let resp = fake_slack::slash(
                &url,
                &[
                    ("team_id", "T0BENCH"),
                    ("channel_id", "C0GENERAL"),
                    ("user_id", "U0BENCH"),
                    ("command", "/inc"),
                    ("text", &format!("declare sev2 {title}")),
                    ("trigger_id", &format!("bench-{n}")),
                ],
            )
            .await;
            assert!(resp.status().is_success());
            (n, sent, sent.elapsed())
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
            let n: usize = name.rsplit('-').next()?.parse().ok()?;
            Some(c.at.saturating_duration_since(sent_at[n]))
        })
        .collect();
    // Let the outbox finish the remaining posts before reading memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_mib(bot.child.id());
    acks.sort_unstable();
    to_channel.sort_unstable();
    let mib = |m: Option<f64>| m.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.1} MiB"));
    println!(
        "| {} ms | {:.1} / {:.1} / {:.1} ms | {:.0} / {:.0} ms | {:.0} | {:.1} s | {} → {} |",
        latency.as_millis(),
        pct(&acks, 50.0),
        pct(&acks, 95.0),
        pct(&acks, 99.0),
        pct(&to_channel, 50.0),
        pct(&to_channel, 99.0),
        DECLARES as f64 / all_acked.as_secs_f64(),
        all_created.as_secs_f64(),
        mib(idle),
        mib(after),
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let bin = klaxon_tests::binary::klaxon_release();
    println!("{DECLARES} declares, {IN_FLIGHT} in flight, against the fake Slack:\n");
    println!(
        "| added API latency | answer p50 / p95 / p99 | command → channel created p50 / p99 | declares/s (answered) | all channels created after | bot RSS idle → after |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    round(&bin, Duration::ZERO).await;
    round(&bin, Duration::from_millis(50)).await;
}
