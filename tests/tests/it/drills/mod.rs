//! Drills against the real `klaxon` binary: a stream of signed Slack commands while the process
//! is killed with SIGKILL at random moments and started again; afterwards nothing that was
//! answered is lost or doubled, the database is intact and every queued call was made.

mod verify;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use klaxon::store::outbox::{Op, Target};
use klaxon::store::posts::PostKind;
use klaxon_tests::fake_slack::{ApiCall, FakeSlack, SIGNING_SECRET, sign};
use klaxon_tests::process::{Process, slack_env};
use klaxon_tests::wait::{eventually, until};
use serde_json::Value;
use tokio::sync::watch;
use verify::{check, open};

/// Concurrent streams of commands (as several people typing at once).
const LANES: usize = 3;
/// Incidents each lane declares; each declare is followed by a click on Acknowledge.
const DECLARES_PER_LANE: usize = 16;
/// SIGKILLs during the stream.
const KILLS: usize = 5;
/// The paging channel, where announcements go.
const PAGING: &str = "C0PAGING";
/// How many calls the dispatcher has in flight at once: at most that many calls can be
/// repeated by one crash.
const IN_FLIGHT: usize = klaxon::outbox::IN_FLIGHT;

/// The real `klaxon` binary, built once: the test profile, as `cli.rs` and `ops.rs` build it,
/// or the release build with `KLAXON_DRILL_RELEASE=1` (minutes more to build, so not in CI).
fn klaxon_binary() -> std::path::PathBuf {
    if std::env::var_os("KLAXON_DRILL_RELEASE").is_some_and(|v| v == "1") {
        klaxon_tests::binary::klaxon_release()
    } else {
        klaxon_tests::binary::klaxon()
    }
}

/// One command of the stream, sent until it is answered (a platform retries the same way).
#[derive(Debug, Clone)]
enum Cmd {
    /// `/inc declare sev3 <title>` in #general.
    Declare { title: String, trigger: String },
    /// A click on Acknowledge under an incident's announcement (Slack's payload).
    Ack { trigger: String, payload: Value },
}

impl Cmd {
    fn trigger(&self) -> &str {
        match self {
            Self::Declare { trigger, .. } | Self::Ack { trigger, .. } => trigger,
        }
    }
}

/// Where Klaxon is now: `Some(url)` while it runs, `None` while it is down; and how many times
/// it has started.
type Current = (u32, Option<String>);

/// Sends a command once, signed now: the answer's JSON (`Null` for a click), or `Err` when the
/// process did not answer (killed on the way).
async fn send(client: &reqwest::Client, url: &str, cmd: &Cmd) -> Result<Value, String> {
    let (path, body) = match cmd {
        Cmd::Declare { title, trigger } => (
            "/slack/commands",
            serde_urlencoded::to_string([
                ("team_id", "T0TEAM"),
                ("channel_id", "C0GENERAL"),
                ("channel_name", "general"),
                ("user_id", "U0ALICE"),
                ("user_name", "alice"),
                ("command", "/inc"),
                ("text", &format!("declare sev3 {title}")),
                ("trigger_id", trigger),
            ])
            .expect("form"),
        ),
        Cmd::Ack { payload, .. } => (
            "/slack/interactions",
            serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form"),
        ),
    };
    let ts = chrono::Utc::now().timestamp();
    let resp = client
        .post(format!("{url}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-signature", sign(SIGNING_SECRET, ts, &body))
        .header("x-slack-request-timestamp", ts.to_string())
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}: {text}"));
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

/// The number in a declare's reply, `🚨 INC-12 declared (SEV3) → …`.
fn incident_number(reply: &Value) -> Option<i64> {
    let text = reply["text"].as_str()?;
    let rest = &text[text.find("INC-")? + 4..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// One lane: declare, then acknowledge, `DECLARES_PER_LANE` times; every command is sent
/// again (same trigger id, fresh signature) until it is answered. Returns the answered
/// commands and how many sends went unanswered.
async fn lane(
    lane: usize,
    fake: FakeSlack,
    mut current: watch::Receiver<Current>,
    answered: Arc<AtomicUsize>,
) -> Result<(Vec<Cmd>, usize), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| e.to_string())?;
    let mut done = Vec::new();
    let mut unanswered = 0;
    for k in 0..DECLARES_PER_LANE {
        let declare = Cmd::Declare {
            title: format!("Drill lane {lane} incident {k:02}"),
            trigger: format!("drill-declare-{lane}-{k}"),
        };
        let reply = until_answered(&client, &mut current, &declare, &mut unanswered).await?;
        let number = incident_number(&reply)
            .ok_or_else(|| format!("{declare:?} was not declared: {reply}"))?;
        done.push(declare);
        answered.fetch_add(1, Ordering::SeqCst);
        let trigger = format!("drill-ack-{lane}-{k}");
        let ack = Cmd::Ack {
            payload: fake.click("ack", number, "U0BOB", PAGING, &trigger),
            trigger,
        };
        until_answered(&client, &mut current, &ack, &mut unanswered).await?;
        done.push(ack);
        answered.fetch_add(1, Ordering::SeqCst);
    }
    Ok((done, unanswered))
}

async fn until_answered(
    client: &reqwest::Client,
    current: &mut watch::Receiver<Current>,
    cmd: &Cmd,
    unanswered: &mut usize,
) -> Result<Value, String> {
    for _ in 0..50 {
        let (generation, url) = current.borrow_and_update().clone();
        let Some(url) = url else {
            // Down: wait for the next start.
            current.changed().await.map_err(|e| e.to_string())?;
            continue;
        };
        match send(client, &url, cmd).await {
            Ok(reply) => {
                let text = reply["text"].as_str().unwrap_or("");
                if text.starts_with(":warning:") {
                    return Err(format!("{cmd:?} was refused: {text}"));
                }
                return Ok(reply);
            }
            Err(why) => {
                *unanswered += 1;
                // Killed on the way (or about to be): send again once it has started again.
                let moved = tokio::time::timeout(
                    Duration::from_secs(5),
                    current.wait_for(|(g, _)| *g != generation),
                )
                .await;
                if moved.is_err() {
                    return Err(format!("{cmd:?}: no answer and no restart: {why}"));
                }
            }
        }
    }
    Err(format!("{cmd:?} was never answered"))
}

/// Waits (up to 30 s: a drill runs under load) until `check` holds.
async fn wait_until(check: impl FnMut() -> bool) -> bool {
    until(Duration::from_secs(30), check).await
}

/// The seed: `KLAXON_DRILL_SEED` to replay a failure, or a new one from the clock.
fn seed() -> u64 {
    std::env::var("KLAXON_DRILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
}

/// Commands stream in over signed HTTP from three lanes while the binary is killed five times
/// at random moments (after a random number of further answers, or of further Slack calls, so
/// that kills land inside commands and inside outbox calls) and started again. Afterwards:
/// every answered command is recorded exactly once, no incident exists twice, each has one
/// `declared` and one `acknowledged` entry, SQLite's integrity check passes, and every outbox
/// call was made: none pending, none failed, and each done call is among the fake's requests.
///
/// Exactly-once holds for commands, incidents, the timeline, channels (no `-2` twin) and posts
/// (none repeated). A call that sets a state (topic, pin, edit, invite) in flight when the
/// process dies may be made again after the restart, so the fake may count up to `IN_FLIGHT`
/// extra such calls per kill, and never fewer than the outbox says were made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_answered_command_and_doubles_nothing() {
    let seed = seed();
    eprintln!("kill -9 drill: seed {seed} (replay with KLAXON_DRILL_SEED={seed})");
    let bin = tokio::task::spawn_blocking(klaxon_binary)
        .await
        .expect("build");
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(120), drill(seed, &bin)).await;
    match result {
        Ok(Ok(summary)) => eprintln!("{summary} in {:?}", started.elapsed()),
        Ok(Err(why)) => panic!("seed {seed}: {why}"),
        Err(_) => panic!("seed {seed}: the drill did not finish within 120 s"),
    }
}

async fn drill(seed: u64, bin: &Path) -> Result<String, String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let fake = FakeSlack::start().await;
    // Klaxon is in the paging channel, so it may read the history there (Slack lets a bot read
    // only the channels it is in) and find a post it made just before a kill.
    fake.add_channel(PAGING, "paging", false, true);
    // A little latency keeps Slack calls in flight long enough for kills to land inside them.
    fake.set_latency(Duration::from_millis(15));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("klaxon.toml"),
        format!(
            "checklist = []\n[incidents]\npaging_channel = \"{PAGING}\"\n[slack]\nannouncement_debounce_ms = 0\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let client = reqwest::Client::new();
    let (current_tx, current_rx) = watch::channel::<Current>((0, None));
    let answered = Arc::new(AtomicUsize::new(0));
    let lanes: Vec<_> = (0..LANES)
        .map(|l| {
            tokio::spawn(lane(
                l,
                fake.clone(),
                current_rx.clone(),
                Arc::clone(&answered),
            ))
        })
        .collect();
    let lanes_done = || lanes.iter().all(tokio::task::JoinHandle::is_finished);

    let mut kills = Vec::new();
    let mut generation = 0;
    let process = loop {
        generation += 1;
        let mut process = Process::start(bin, dir.path(), &slack_env(&fake));
        if !process.ready(&client).await {
            return Err(format!("start {generation} never became ready"));
        }
        current_tx.send_replace((generation, Some(process.url.clone())));
        if kills.len() == KILLS || lanes_done() {
            break process;
        }
        // A random moment, chosen by events: after some more answers, or some more calls.
        let (what, target) = if rng.bool() {
            let n = rng.usize(1..=6);
            let at = answered.load(Ordering::SeqCst) + n;
            let answered = Arc::clone(&answered);
            let reached = wait_until(|| answered.load(Ordering::SeqCst) >= at || lanes_done());
            (format!("after {n} more answers"), reached.await)
        } else {
            let n = rng.usize(1..=16);
            let at = fake.calls().len() + n;
            let reached = wait_until(|| fake.calls().len() >= at || lanes_done());
            (format!("after {n} more Slack calls"), reached.await)
        };
        if !target {
            return Err(format!("nothing happened before kill {}", kills.len() + 1));
        }
        process.kill_9();
        current_tx.send_replace((generation, None));
        kills.push(what);
    };

    let mut answered_cmds = Vec::new();
    let mut unanswered = 0;
    for handle in lanes {
        let (cmds, missed) = handle.await.map_err(|e| e.to_string())??;
        answered_cmds.extend(cmds);
        unanswered += missed;
    }
    if kills.len() < KILLS - 1 {
        return Err(format!("the stream ended before enough kills: {kills:?}"));
    }

    // After the last start, every pending call is made.
    let db = klaxon_tests::database::at(dir.path(), "k.db").await;
    let pool = open(&db).await?;
    let mut pending: Result<i64, String> = Ok(0);
    let drained = eventually(Duration::from_secs(30), async || {
        pending = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE state = 'pending'")
            .fetch_one(&pool)
            .await
            .map_err(|e| e.to_string());
        pending.as_ref().is_ok_and(|n| *n == 0)
    })
    .await;
    let pending = pending?;
    if !drained {
        return Err(format!(
            "{pending} calls still pending 30 s after the last start"
        ));
    }
    pool.close().await;
    let status = process.terminate().await;
    let logs = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    if !status.is_some_and(|s| s.success()) {
        return Err(format!("klaxon did not exit cleanly: {status:?}\n{logs}"));
    }

    let pool = open(&db).await?;
    let report = check(&pool, &answered_cmds, &fake.calls(), kills.len()).await;
    pool.close().await;
    report.map_err(|why| format!("{why}\nkills: {kills:?}\nlogs:\n{logs}"))?;
    Ok(format!(
        "kill -9 drill: {} commands answered ({unanswered} sends unanswered and sent again), kills {kills:?}",
        answered_cmds.len()
    ))
}
