//! Declare benchmark: declares through the engine alone, no platform.
//!
//! Sends N `/inc declare` invocations to `Engine::handle` on a fresh SQLite file (WAL,
//! `synchronous = FULL`), once one at a time and once 20 in flight, and reports declares per
//! second, the answer's latency (p50/p99: each answer comes after its commit), the process's
//! CPU time (user + system, `getrusage`) per declare and its resident memory after. The outbox is not drained: the platform
//! calls each declare queues are only written.
//!
//! Run: `cargo bench -p klaxon --bench declares` (optionally `-- 5000` for more declares).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon::app::App;
use klaxon::clock::SystemClock;
use klaxon::config::Config;
use klaxon_commands::{
    ChannelRef, ChatApi, Input, Invocation, PlatformKind, ReplyKind, Tenant, UserRef,
};
use nix::sys::resource::{UsageWho, getrusage};

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> anyhow::Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(u64::try_from(t.tv_sec()).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec()).unwrap_or(0))
    };
    Ok(micros(usage.user_time()) + micros(usage.system_time()))
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// N declares with `in_flight` at once on a fresh database; prints one table row.
async fn round(n: usize, in_flight: usize) -> anyhow::Result<()> {
    let (_dir, store) = common::temp_store().await?;
    let config = Config::parse("checklist = []")?;
    let apis: BTreeMap<PlatformKind, Arc<dyn ChatApi>> = BTreeMap::new();
    let app = App::new(store.clone(), config, Arc::new(SystemClock), apis)?;
    let engine = Arc::clone(&app.engine);
    let tenant = Tenant::new(PlatformKind::Console, "bench");
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let cpu = cpu_time()?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (engine, gate, tenant) = (Arc::clone(&engine), Arc::clone(&gate), tenant.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let sent = Instant::now();
            let reply = engine
                .handle(Invocation {
                    tenant,
                    channel: ChannelRef::new("general", "general"),
                    user: UserRef::named("bench", "bench"),
                    input: Input::Text(format!("declare sev2 Benchmark incident {i}")),
                    incident: None,
                    delivery_id: Some(format!("bench-{i}")),
                })
                .await;
            anyhow::ensure!(reply.kind == ReplyKind::Ok, "{}", reply.to_plain());
            anyhow::Ok(sent.elapsed())
        }));
    }
    let mut answers = Vec::with_capacity(n);
    for task in tasks {
        answers.push(task.await??);
    }
    let took = started.elapsed();
    let cpu = cpu_time()?.saturating_sub(cpu);
    answers.sort_unstable();
    let mut conn = store.read().await?;
    let incidents = klaxon::store::count_rows(&mut conn, "incidents").await?;
    drop(conn);
    anyhow::ensure!(
        usize::try_from(incidents)? == n,
        "{incidents} incidents recorded of {n}"
    );
    println!(
        "| {in_flight} | {n} | {:.0} | {:.1} / {:.1} ms | {:.2} ms | {:.1} MiB |",
        n as f64 / took.as_secs_f64(),
        pct(&answers, 50.0),
        pct(&answers, 99.0),
        cpu.as_secs_f64() * 1000.0 / n as f64,
        common::rss_mib().unwrap_or(f64::NAN),
    );
    store.close().await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n = common::size(2000);
    println!("{n} declares through the engine alone (no platform):\n");
    println!(
        "| in flight | declares | declares/s | answer p50 / p99 | CPU per declare | RSS after |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    round(n, 1).await?;
    round(n, 20).await?;
    Ok(())
}
