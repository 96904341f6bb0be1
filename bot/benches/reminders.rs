//! Reminder benchmark: 10 000 open incidents on the real clock.
//!
//! Declares 10 000 incidents (SEV1/SEV2/SEV3 in turn) through the engine, makes their platform
//! calls against a platform that answers at once, then moves every status-update reminder to a
//! staggered due time within the next 30 seconds and lets the real scheduler and dispatcher
//! run. Reports how late each reminder fired against its due time (p50/p99/max), the CPU used
//! while nothing is due, and the process's resident memory.
//!
//! Run: `cargo bench -p klaxon --bench reminders` (optionally `-- 2000` for fewer incidents,
//! `-- same-second` for every reminder due at the same instant).

use std::collections::BTreeMap;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use klaxon::app::App;
use klaxon::clock::SystemClock;
use klaxon::config::Config;
use klaxon::store::reminders::Kind;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Input, Invocation, Message, MessageRef, NewChannel, Once,
    PlatformKind, Posted, Rich, Tenant, Upload, UserRef,
};
use tokio_util::sync::CancellationToken;

/// A platform that accepts every call at once.
struct Instant200;

#[async_trait]
impl ChatApi for Instant200 {
    async fn create_channel(&self, c: &NewChannel) -> Result<ChannelRef, ApiError> {
        Ok(ChannelRef::new(&c.name, &c.name))
    }
    async fn invite(&self, _: &ChannelRef, _: &[UserRef]) -> Result<(), ApiError> {
        Ok(())
    }
    async fn open_direct(&self, u: &UserRef) -> Result<ChannelRef, ApiError> {
        Ok(ChannelRef::new(&u.id, &u.id))
    }
    async fn set_topic(&self, _: &ChannelRef, _: &Rich) -> Result<(), ApiError> {
        Ok(())
    }
    async fn adopt_created(
        &self,
        _: &NewChannel,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<ChannelRef>, ApiError> {
        Ok(None)
    }
    async fn post(&self, c: &ChannelRef, _: &Message, _: &Once) -> Result<Posted, ApiError> {
        Ok(Posted {
            channel_id: c.id.clone().unwrap_or_default(),
            message: MessageRef("m".into()),
        })
    }
    async fn edit(&self, _: &ChannelRef, _: &MessageRef, _: &Message) -> Result<(), ApiError> {
        Ok(())
    }
    async fn pin(&self, _: &ChannelRef, _: &MessageRef) -> Result<(), ApiError> {
        Ok(())
    }
    async fn upload(&self, _: &ChannelRef, _: &Upload) -> Result<MessageRef, ApiError> {
        Ok(MessageRef("f".into()))
    }
    async fn archive(&self, _: &ChannelRef) -> Result<(), ApiError> {
        Ok(())
    }
    async fn unarchive(&self, _: &ChannelRef) -> Result<(), ApiError> {
        Ok(())
    }
}

/// CPU time (user + system) of this process, from /proc (Linux).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n = common::size(10_000);
    let (_dir, store) = common::temp_store().await?;
    let config = Config::parse("checklist = []")?;
    let mut apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    apis.insert(PlatformKind::Console, Arc::new(Instant200));
    let app = App::new(store.clone(), config, Arc::new(SystemClock), apis)?;
    let tenant = Tenant::new(PlatformKind::Console, "bench");

    println!("Declaring {n} incidents…");
    let started = Instant::now();
    for i in 0..n {
        let sev = ["sev1", "sev2", "sev3"][i % 3];
        let reply = app
            .engine
            .handle(Invocation {
                tenant: tenant.clone(),
                channel: ChannelRef::new("general", "general"),
                user: UserRef::named("bench", "bench"),
                input: Input::Text(format!("declare {sev} Benchmark incident {i}")),
                incident: None,
                delivery_id: None,
            })
            .await;
        anyhow::ensure!(
            reply.kind == klaxon_commands::ReplyKind::Ok,
            "{}",
            reply.to_plain()
        );
    }
    let declare_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    app.dispatcher.drain().await?;
    let drain_secs = started.elapsed().as_secs_f64();
    println!(
        "declares: {:.0}/s ({declare_secs:.1} s); their {} platform calls: {drain_secs:.1} s",
        n as f64 / declare_secs,
        n * 4
    );

    // Stagger every status reminder over the next 30 s (with `-- same-second`, every one at
    // the same instant); push acknowledgement deadlines away.
    let base = Utc::now() + chrono::Duration::seconds(5);
    let same_second = std::env::args().any(|a| a == "same-second");
    let window_ms = if same_second { 0 } else { 30_000i64 };
    let mut planned = Vec::with_capacity(n);
    {
        let mut tx = store.begin().await?;
        for i in 0..n {
            let id = i64::try_from(i + 1)?;
            let offset = window_ms * i64::try_from(i)? / i64::try_from(n)?;
            let due = base + chrono::Duration::milliseconds(offset);
            klaxon::store::reminders::schedule(&mut tx, id, Kind::StatusUpdate, 0, due).await?;
            let later = base + chrono::Duration::hours(6);
            klaxon::store::reminders::schedule(&mut tx, id, Kind::Ack, 0, later).await?;
            planned.push(due);
        }
        tx.commit().await?;
    }

    let shutdown = CancellationToken::new();
    let scheduler = tokio::spawn(Arc::clone(&app.scheduler).run(shutdown.clone()));
    let dispatcher =
        tokio::spawn(Arc::clone(&app.dispatcher).run(shutdown.clone(), Duration::from_secs(5)));
    // Wake the scheduler so it sees the new schedule.
    app.scheduler.fire_due().await?;
    println!("Waiting for {n} reminders due over {} s…", window_ms / 1000);
    let deadline = Instant::now() + Duration::from_secs(300);
    let fired_times = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut conn = store.read().await?;
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT incident_id, last_fired_at FROM reminders WHERE kind = 'status_update' ORDER BY incident_id",
        )
        .fetch_all(&mut *conn)
        .await?;
        let done = rows.iter().filter(|(_, at)| at.is_some()).count();
        if done == n || Instant::now() > deadline {
            break rows;
        }
    };
    let mut lateness: Vec<i64> = fired_times
        .iter()
        .filter_map(|(id, at)| {
            let at = klaxon::clock::from_db(at.as_deref()?).ok()?;
            let due = planned[usize::try_from(*id - 1).ok()?];
            Some((at - due).num_milliseconds())
        })
        .collect();
    lateness.sort_unstable();
    let fired = lateness.len();

    // Nothing is due for the next quarter of an hour: measure the idle cost.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = cpu_time();
    let idle = Duration::from_secs(10);
    tokio::time::sleep(idle).await;
    let cpu_idle = cpu_time().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
    shutdown.cancel();
    let _ = scheduler.await;
    let _ = dispatcher.await;

    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| incidents | {n} |");
    println!("| reminders fired (of {n}) | {fired} |");
    println!("| lateness p50 | {} ms |", percentile(&lateness, 50.0));
    println!("| lateness p99 | {} ms |", percentile(&lateness, 99.0));
    if same_second {
        println!("| all due at the same instant | yes |");
    }
    println!(
        "| lateness max | {} ms |",
        lateness.last().copied().unwrap_or(0)
    );
    match cpu_idle {
        Some(cpu) => println!(
            "| CPU while idle | {} ms over {} s ({:.2} %) |",
            cpu.as_millis(),
            idle.as_secs(),
            cpu.as_secs_f64() * 100.0 / idle.as_secs_f64()
        ),
        None => println!("| CPU while idle | not measurable here |"),
    }
    if let Some(rss) = common::rss_mib() {
        println!("| resident memory at the end | {rss:.1} MiB |");
    }
    Ok(())
}
