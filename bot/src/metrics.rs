//! Klaxon's own metrics, served at `GET /metrics` in the Prometheus (OpenMetrics) text format
//! through `prometheus-client`.
//!
//! One process-wide registry: the engine, the outbox, the scheduler and alert intake count into
//! it wherever they are, and the endpoint encodes it. Open incidents are read from the database
//! at scrape time (the database is the truth; a gauge kept in memory would drift across
//! restarts), and so are the histograms of time to acknowledge and to resolve, and who is on
//! call now and the gaps ahead (from the schedules and the stored covers).

use std::sync::LazyLock;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

struct Metrics {
    registry: Registry,
    /// Held from setting the open-incident gauges to encoding them, so concurrent scrapes of
    /// different stores (tests) each see their own.
    rendering: std::sync::Mutex<()>,
    commands: Family<Labels, Counter>,
    command_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    open_incidents: Family<Labels, Gauge>,
    reminders: Family<Labels, Counter>,
    reminder_lateness: Family<Labels, Histogram, fn() -> Histogram>,
    platform_calls: Family<Labels, Counter>,
    platform_paused: Family<Labels, Gauge>,
    alerts: Family<Labels, Counter>,
    alerts_deduplicated: Family<Labels, Counter>,
    alerts_rejected: Family<Labels, Counter>,
    task_panics: Family<Labels, Counter>,
    reminder_failures: Family<Labels, Counter>,
}

/// 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// 1 s to about 4.5 hours.
fn lateness_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 15))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("klaxon");
    let commands = Family::<Labels, Counter>::default();
    registry.register(
        "commands",
        "Commands handled, by subcommand and outcome (ok, user_error, internal_error)",
        commands.clone(),
    );
    let command_seconds =
        Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
    registry.register(
        "command_duration_seconds",
        "Time from receiving a command to answering it, by platform",
        command_seconds.clone(),
    );
    let open_incidents = Family::<Labels, Gauge>::default();
    registry.register(
        "open_incidents",
        "Incidents not yet resolved, by severity",
        open_incidents.clone(),
    );
    let reminders = Family::<Labels, Counter>::default();
    registry.register(
        "reminders_fired",
        "Reminders that fell due, by kind and whether they posted",
        reminders.clone(),
    );
    let reminder_lateness =
        Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(lateness_histogram);
    registry.register(
        "reminder_lateness_seconds",
        "How long after its due time a reminder fired, by kind",
        reminder_lateness.clone(),
    );
    let platform_calls = Family::<Labels, Counter>::default();
    registry.register(
        "platform_calls",
        "Outbound platform calls by platform, method and outcome (ok, retry, rate_limited, failed)",
        platform_calls.clone(),
    );
    let platform_paused = Family::<Labels, Gauge>::default();
    registry.register(
        "platform_paused",
        "1 while a platform refuses Klaxon's token or app and its calls wait (see /readyz and the log for the fix)",
        platform_paused.clone(),
    );
    let alerts = Family::<Labels, Counter>::default();
    registry.register(
        "alerts_received",
        "Alerts received, by endpoint and status (firing, resolved)",
        alerts.clone(),
    );
    let alerts_deduplicated = Family::<Labels, Counter>::default();
    registry.register(
        "alerts_deduplicated",
        "Alerts that matched an existing announcement (by fingerprint) and edited it",
        alerts_deduplicated.clone(),
    );
    let alerts_rejected = Family::<Labels, Counter>::default();
    registry.register(
        "alerts_rejected",
        "Alert payloads refused as malformed, by endpoint",
        alerts_rejected.clone(),
    );
    let task_panics = Family::<Labels, Counter>::default();
    registry.register(
        "task_panics",
        "Background tasks (scheduler, dispatcher) that panicked and were restarted or given up, by task",
        task_panics.clone(),
    );
    let reminder_failures = Family::<Labels, Counter>::default();
    registry.register(
        "reminder_failures",
        "Reminders that could not be fired and were put off to try again, by kind",
        reminder_failures.clone(),
    );
    Metrics {
        registry,
        rendering: std::sync::Mutex::new(()),
        commands,
        command_seconds,
        open_incidents,
        reminders,
        reminder_lateness,
        platform_calls,
        platform_paused,
        alerts,
        alerts_deduplicated,
        alerts_rejected,
        task_panics,
        reminder_failures,
    }
});

pub fn command(platform: &str, command: &str, outcome: &str, seconds: f64) {
    let m = &*METRICS;
    m.commands
        .get_or_create(&vec![
            ("command", command.to_owned()),
            ("outcome", outcome.to_owned()),
        ])
        .inc();
    m.command_seconds
        .get_or_create(&vec![("platform", platform.to_owned())])
        .observe(seconds);
}

pub fn reminder(kind: &str, posted: bool, lateness_seconds: f64) {
    let m = &*METRICS;
    m.reminders
        .get_or_create(&vec![
            ("kind", kind.to_owned()),
            ("posted", posted.to_string()),
        ])
        .inc();
    m.reminder_lateness
        .get_or_create(&vec![("kind", kind.to_owned())])
        .observe(lateness_seconds.max(0.0));
}

pub fn platform_call(platform: &str, method: &str, outcome: &str) {
    METRICS
        .platform_calls
        .get_or_create(&vec![
            ("platform", platform.to_owned()),
            ("method", method.to_owned()),
            ("outcome", outcome.to_owned()),
        ])
        .inc();
}

/// Whether a platform's calls are paused on a refused token.
pub fn platform_paused(platform: &str, paused: bool) {
    METRICS
        .platform_paused
        .get_or_create(&vec![("platform", platform.to_owned())])
        .set(i64::from(paused));
}

pub fn alert_received(endpoint: &str, firing: bool) {
    let status = if firing { "firing" } else { "resolved" };
    METRICS
        .alerts
        .get_or_create(&vec![
            ("endpoint", endpoint.to_owned()),
            ("status", status.to_owned()),
        ])
        .inc();
}

pub fn alert_deduplicated(endpoint: &str) {
    METRICS
        .alerts_deduplicated
        .get_or_create(&vec![("endpoint", endpoint.to_owned())])
        .inc();
}

pub fn alert_rejected(endpoint: &str) {
    METRICS
        .alerts_rejected
        .get_or_create(&vec![("endpoint", endpoint.to_owned())])
        .inc();
}

pub fn task_panicked(task: &str) {
    METRICS
        .task_panics
        .get_or_create(&vec![("task", task.to_owned())])
        .inc();
}

pub fn reminder_failed(kind: &str) {
    METRICS
        .reminder_failures
        .get_or_create(&vec![("kind", kind.to_owned())])
        .inc();
}

/// The metrics as OpenMetrics text, with open incidents counted in `store` now.
pub async fn render(store: &crate::store::Store) -> anyhow::Result<String> {
    render_with(store, None, None).await
}

/// The same, with who is on call at `now` in `schedules` and the gaps ahead (covers from
/// `store` applied).
pub async fn render_oncall(
    store: &crate::store::Store,
    schedules: &crate::oncall::Schedules,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    render_with(store, Some((schedules, now)), None).await
}

/// This replica, as `/metrics` describes it.
#[derive(Debug, Clone)]
pub struct Replica<'a> {
    /// Its id.
    pub id: &'a str,
    /// The lease it may lead under (the Discord gateway's) and whether it holds it now.
    pub leads: Option<(&'a str, bool)>,
    /// Platform calls it has in flight now (one per lane at most).
    pub in_flight: usize,
}

/// [`render_oncall`], with this replica's gauges: `klaxon_replica_info{replica} 1`,
/// `klaxon_leader{lease,replica}` (1 while it holds the lease),
/// `klaxon_calls_in_flight{replica}`, and `klaxon_lanes_held{replica}` for this replica and
/// every other that holds lanes now (read from the database, so any replica's scrape shows
/// them all).
pub async fn render_replica(
    store: &crate::store::Store,
    schedules: &crate::oncall::Schedules,
    now: chrono::DateTime<chrono::Utc>,
    replica: &Replica<'_>,
) -> anyhow::Result<String> {
    // Only replicas sharing a PostgreSQL database claim calls.
    let held = if store.backend() == crate::store::Backend::Postgres {
        let mut conn = store.read().await?;
        Some(crate::store::outbox::held(&mut conn, now).await?)
    } else {
        None
    };
    render_with(
        store,
        Some((schedules, now)),
        Some(replica_registry(replica, held.as_deref())),
    )
    .await
}

/// The replica's gauges, in a registry of their own made for this scrape (several replicas
/// in one test process each have theirs); `held`, the lanes each replica holds (on
/// PostgreSQL).
fn replica_registry(replica: &Replica<'_>, held: Option<&[(String, i64)]>) -> Registry {
    let mut registry = Registry::with_prefix("klaxon");
    let labels = vec![("replica", replica.id.to_owned())];
    let info = Family::<Labels, Gauge>::default();
    info.get_or_create(&labels).set(1);
    registry.register(
        "replica_info",
        "1, labelled with this replica's id (host-pid-suffix, new at each start)",
        info,
    );
    if let Some((lease, leads)) = replica.leads {
        let leader = Family::<Labels, Gauge>::default();
        leader
            .get_or_create(&vec![
                ("lease", lease.to_owned()),
                ("replica", replica.id.to_owned()),
            ])
            .set(i64::from(leads));
        registry.register(
            "leader",
            "1 while this replica holds the lease (discord-gateway: the Discord gateway connects from it), else 0",
            leader,
        );
    }
    let in_flight = Family::<Labels, Gauge>::default();
    in_flight
        .get_or_create(&labels)
        .set(i64::try_from(replica.in_flight).unwrap_or(i64::MAX));
    registry.register(
        "calls_in_flight",
        "Platform calls this replica is making now (one per lane at most)",
        in_flight,
    );
    if let Some(held) = held {
        let lanes = Family::<Labels, Gauge>::default();
        lanes.get_or_create(&labels).set(0);
        for (owner, n) in held {
            lanes
                .get_or_create(&vec![("replica", owner.clone())])
                .set(*n);
        }
        registry.register(
            "lanes_held",
            "Lanes each replica holds now: calls it has claimed and not finished, their lease not passed (from the database)",
            lanes,
        );
    }
    registry
}

async fn render_with(
    store: &crate::store::Store,
    oncall: Option<(&crate::oncall::Schedules, chrono::DateTime<chrono::Utc>)>,
    replica: Option<Registry>,
) -> anyhow::Result<String> {
    let m = &*METRICS;
    let mut conn = store.read().await?;
    let open = crate::store::incidents::open_by_severity(&mut conn).await?;
    drop(conn);
    let times = times(store).await?;
    let oncall = match oncall {
        Some((schedules, now)) => Some(oncall_registry(store, schedules, now).await?),
        None => None,
    };
    let _one_at_a_time = m
        .rendering
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for severity in klaxon_commands::Severity::ALL {
        let n = open
            .iter()
            .find(|(s, _)| *s == severity)
            .map_or(0, |(_, n)| *n);
        m.open_incidents
            .get_or_create(&vec![("severity", severity.to_string())])
            .set(n);
    }
    let mut out = String::new();
    encode_registry(&mut out, &m.registry)?;
    encode_registry(&mut out, &times)?;
    encode_registry(&mut out, &writer_registry(store))?;
    if let Some(oncall) = &oncall {
        encode_registry(&mut out, oncall)?;
    }
    if let Some(replica) = &replica {
        encode_registry(&mut out, replica)?;
    }
    encode_eof(&mut out)?;
    Ok(out)
}

/// The store's writer, in a registry made for this scrape (each store has its own writer):
/// `klaxon_store_commits_total` (batches, one COMMIT and one fsync each),
/// `klaxon_store_writes_committed_total` (write transactions in them; over the commits, the
/// average batch), `klaxon_store_commit_failures_total` and `klaxon_store_writes_waiting`
/// (write transactions queued for the writer now).
fn writer_registry(store: &crate::store::Store) -> Registry {
    let mut registry = Registry::with_prefix("klaxon_store");
    let counter = |n: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(n);
        c
    };
    registry.register(
        "commits",
        "Batches the writer committed (one COMMIT, one fsync each)",
        counter(store.commits()),
    );
    registry.register(
        "writes_committed",
        "Write transactions committed (commands, outbox bookkeeping, firings; several per COMMIT)",
        counter(store.writes_committed()),
    );
    registry.register(
        "commit_failures",
        "Batches whose COMMIT failed (each of their writes was told so)",
        counter(store.commit_failures()),
    );
    let waiting = Gauge::<i64>::default();
    waiting.set(i64::try_from(store.waiting()).unwrap_or(i64::MAX));
    registry.register(
        "writes_waiting",
        "Write transactions queued for the writer now",
        waiting,
    );
    registry
}

/// 30 s to a day: how long acknowledging and resolving take.
const TIME_BUCKETS: [f64; 12] = [
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
];

/// Time to acknowledge and to resolve of every incident, by severity, read from the database
/// at scrape time (the same figures as `/insights` and `klaxon report`), in a registry of its
/// own made for this scrape.
async fn times(store: &crate::store::Store) -> anyhow::Result<Registry> {
    let mut conn = store.read().await?;
    let timings = crate::store::pages::timings(&mut conn, None, None).await?;
    drop(conn);
    let mut registry = Registry::with_prefix("klaxon");
    let ack = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
        Histogram::new(TIME_BUCKETS)
    });
    let resolve = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
        Histogram::new(TIME_BUCKETS)
    });
    for severity in klaxon_commands::Severity::ALL {
        let labels = vec![("severity", severity.to_string())];
        // Every severity is in the output, with zero counts until one is seen.
        drop(ack.get_or_create(&labels));
        drop(resolve.get_or_create(&labels));
    }
    let secs = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
    for t in &timings {
        let labels = vec![("severity", t.severity.to_string())];
        if let Some(d) = t.to_ack {
            ack.get_or_create(&labels).observe(secs(d));
        }
        if let Some(d) = t.to_resolve {
            resolve.get_or_create(&labels).observe(secs(d));
        }
    }
    registry.register(
        "time_to_acknowledge_seconds",
        "Time from declare to the first /inc ack, by the incident's severity now",
        ack,
    );
    registry.register(
        "time_to_resolve_seconds",
        "Time from declare to resolve, by the incident's severity now",
        resolve,
    );
    Ok(registry)
}

/// How far ahead the gap counts look.
const GAP_WINDOW: chrono::Duration = chrono::Duration::days(7);

/// Who is on call now (`klaxon_oncall{schedule,layer,user} 1`, covers applied) and the gaps
/// ahead of each schedule, in a registry of its own made for this scrape.
async fn oncall_registry(
    store: &crate::store::Store,
    schedules: &crate::oncall::Schedules,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Registry> {
    let mut registry = Registry::with_prefix("klaxon");
    let on_call = Family::<Labels, Gauge>::default();
    let next_gap = Family::<Labels, Gauge>::default();
    let gaps = Family::<Labels, Gauge>::default();
    let gap_seconds = Family::<Labels, Gauge>::default();
    let horizon = now
        .checked_add_signed(crate::oncall::GAP_HORIZON)
        .unwrap_or(now);
    let week = now.checked_add_signed(GAP_WINDOW).unwrap_or(now);
    let mut conn = store.read().await?;
    for schedule in schedules.by_name.values() {
        let covers = crate::store::oncall::by_layer(&mut conn, &schedule.name, now).await?;
        for layer in &schedule.layers {
            let layer_covers = covers.get(&layer.name).map_or(&[][..], Vec::as_slice);
            let (held, _) = layer.at(now, chrono::Duration::days(1), layer_covers);
            if let Some(shift) = held {
                on_call
                    .get_or_create(&vec![
                        ("schedule", schedule.name.clone()),
                        ("layer", layer.name.clone()),
                        ("user", shift.person),
                    ])
                    .set(1);
            }
        }
        let labels = vec![("schedule", schedule.name.clone())];
        let ahead = schedule.gaps(now, horizon, &covers);
        if let Some((start, _)) = ahead.first() {
            next_gap
                .get_or_create(&labels)
                .set((*start - now).num_seconds());
        }
        let this_week: Vec<_> = ahead.iter().filter(|(start, _)| *start < week).collect();
        gaps.get_or_create(&labels)
            .set(i64::try_from(this_week.len()).unwrap_or(i64::MAX));
        gap_seconds.get_or_create(&labels).set(
            this_week
                .iter()
                .map(|(start, end)| ((*end).min(week) - *start).num_seconds())
                .sum(),
        );
    }
    registry.register(
        "oncall",
        "1 for whoever is on call now, by schedule, layer and user (covers and swaps applied)",
        on_call,
    );
    registry.register(
        "oncall_next_gap_seconds",
        "Seconds until nobody is on call for a schedule (0 during a gap); absent when no gap is in the next 90 days",
        next_gap,
    );
    registry.register(
        "oncall_gaps_next_7d",
        "Times with nobody on call for a schedule that begin in the next 7 days (one under way included)",
        gaps,
    );
    registry.register(
        "oncall_gap_seconds_next_7d",
        "Seconds with nobody on call for a schedule in the next 7 days",
        gap_seconds,
    );
    Ok(registry)
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
