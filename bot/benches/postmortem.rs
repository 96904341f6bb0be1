//! Postmortem benchmark: a draft from an incident with 10 000 timeline events.
//!
//! Declares one incident, records 10 000 timeline events (updates, notes, status and severity
//! changes, in a realistic mix) and times gathering the record plus rendering the default
//! template, over several runs. Reports the median and slowest run, the draft's size and the
//! process's resident memory.
//!
//! Run: `cargo bench -p klaxon --bench postmortem` (optionally `-- 50000` for more events).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use klaxon::clock::ManualClock;
use klaxon::config::Config;
use klaxon::store::timeline::EntryKind;
use klaxon_commands::{
    ChannelRef, Input, Invocation, PlatformKind, Severity, Status, Tenant, UserRef,
};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let n = common::size(10_000);
    let (_dir, store) = common::temp_store().await?;
    let config = Config::default();
    let start: DateTime<Utc> = "2026-11-23T09:00:00Z".parse()?;
    let clock = ManualClock::new(start);
    let app = klaxon::app::App::new(
        store.clone(),
        config.clone(),
        Arc::new(clock.clone()),
        Default::default(),
    )?;
    let tenant = Tenant::new(PlatformKind::Console, "bench");
    let reply = app
        .engine
        .handle(Invocation {
            tenant: tenant.clone(),
            channel: ChannelRef::new("general", "general"),
            user: UserRef::named("bench", "bench"),
            input: Input::Text("declare sev2 A very long incident".into()),
            incident: None,
            delivery_id: None,
        })
        .await;
    anyhow::ensure!(
        reply.kind == klaxon_commands::ReplyKind::Ok,
        "{}",
        reply.to_plain()
    );

    println!("Recording {n} timeline events…");
    {
        let mut tx = store.begin().await?;
        let people = ["alice", "bob", "carol", "dave"];
        let statuses = [Status::Triage, Status::Contained, Status::Recovering];
        for i in 0..n {
            let at = start + chrono::Duration::seconds(i64::try_from(i)? * 7);
            let who = UserRef::named(people[i % 4], people[i % 4]);
            let (kind, text) = match i % 20 {
                0 => {
                    let (from, to) = (statuses[(i / 20) % 3], statuses[(i / 20 + 1) % 3]);
                    (
                        EntryKind::Status { from, to },
                        format!("Status {from} → {to}"),
                    )
                }
                1 => (
                    EntryKind::Severity {
                        from: Severity::Sev2,
                        to: Severity::Sev1,
                    },
                    "Severity SEV2 → SEV1".to_owned(),
                ),
                2..=5 => (
                    EntryKind::Update,
                    format!(
                        "Update {i}: error rate {}%, rolling back shard {}",
                        i % 7,
                        i % 13
                    ),
                ),
                _ => (
                    EntryKind::Note,
                    format!("Note {i}: checked dashboard | p99 {} ms", 100 + i % 900),
                ),
            };
            klaxon::store::timeline::append(&mut tx, 1, at, &who, &kind, &text).await?;
        }
        tx.commit().await?;
    }

    let renderer = klaxon::engine::postmortem::Renderer::new(&config)?;
    let mut conn = store.read().await?;
    let incident = klaxon::store::incidents::get(&mut conn, 1)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no incident"))?;
    let now = start + chrono::Duration::days(1);
    let runs = 7;
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let context =
            klaxon::engine::postmortem::gather(&mut conn, &config, &incident, 1, now).await?;
        let markdown = renderer.render(&context)?;
        times.push(t.elapsed());
        size = markdown.len();
    }
    times.sort_unstable();
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| timeline events | {n} |");
    println!(
        "| draft (gather + render), median of {runs} | {:.1} ms |",
        times[runs / 2].as_secs_f64() * 1000.0
    );
    println!(
        "| draft, slowest | {:.1} ms |",
        times[runs - 1].as_secs_f64() * 1000.0
    );
    println!("| draft size | {:.0} KiB |", size as f64 / 1024.0);
    if let Some(rss) = common::rss_mib() {
        println!("| resident memory at the end | {rss:.1} MiB |");
    }
    Ok(())
}
