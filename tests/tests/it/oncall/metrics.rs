//! `/metrics`' on-call series: who is on call now as labels on `klaxon_oncall` (covers applied)
//! and the gaps ahead of each schedule, at scrape time on the manual clock.

use klaxon::clock::Clock as _;
use klaxon_tests::TestBot;
use klaxon_tests::spawn::{Options, SlackHttp, spawn};

use crate::ops::{parse, value};

/// Weekdays 09:00-17:00 UTC only: every night and weekend is a gap.
const SUPPORT: &str = r#"
[[layers]]
name = "primary"
participants = ["U0SAM"]
rotation = "weekly"
start = "2026-11-02"
[layers.restrict]
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-17:00"
"#;

fn schedules_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        std::path::Path::new(super::SCHEDULES).join("payments.toml"),
        dir.path().join("payments.toml"),
    )
    .expect("copy the example");
    std::fs::write(dir.path().join("support.toml"), SUPPORT).expect("write");
    dir
}

#[tokio::test]
async fn the_gauges_name_who_is_on_call_and_count_the_gaps_ahead() {
    let dir = schedules_dir();
    let mut config = klaxon::config::Config::default();
    config.oncall.dir = dir.path().to_owned();
    let bot = TestBot::with_config(config).await;
    bot.ok(
        "oncall",
        "general",
        "/inc oncall cover @U0BOB 4h payments/secondary",
    )
    .await;
    let text = klaxon::metrics::render_oncall(bot.store(), &bot.app.schedules, bot.clock.now())
        .await
        .expect("render");
    let scrape = parse(&text);
    let on_call = |schedule: &str, layer: &str| -> Vec<String> {
        scrape
            .samples
            .iter()
            .filter(|s| {
                s.metric == "klaxon_oncall"
                    && s.labels.get("schedule") == Some(schedule)
                    && s.labels.get("layer") == Some(layer)
            })
            .filter_map(|s| s.labels.get("user").map(str::to_owned))
            .collect()
    };
    // Monday 2026-11-23 09:00 UTC: the cover holds the secondary layer, not U0DAVE.
    assert_eq!(on_call("payments", "primary"), ["U0ALICE"], "{text}");
    assert_eq!(on_call("payments", "secondary"), ["U0BOB"], "{text}");
    assert_eq!(on_call("payments", "manager"), ["U0MANAGER"], "{text}");
    assert_eq!(on_call("support", "primary"), ["U0SAM"], "{text}");
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall",
            &[
                ("schedule", "payments"),
                ("layer", "primary"),
                ("user", "U0ALICE")
            ]
        ),
        Some(1.0)
    );
    // payments has no gap; support's next is at 17:00 UTC, eight hours on, and the week
    // ahead holds five: four nights of 16 hours and the weekend's 64.
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall_next_gap_seconds",
            &[("schedule", "payments")]
        ),
        None
    );
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall_gaps_next_7d",
            &[("schedule", "payments")]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall_next_gap_seconds",
            &[("schedule", "support")]
        ),
        Some(8.0 * 3600.0)
    );
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall_gaps_next_7d",
            &[("schedule", "support")]
        ),
        Some(5.0)
    );
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall_gap_seconds_next_7d",
            &[("schedule", "support")]
        ),
        Some((4.0 * 16.0 + 64.0) * 3600.0)
    );

    // At 20:00 UTC support is in a gap: nobody is named, the gap is now.
    bot.clock.advance(std::time::Duration::from_secs(11 * 3600));
    let text = klaxon::metrics::render_oncall(bot.store(), &bot.app.schedules, bot.clock.now())
        .await
        .expect("render");
    let scrape = parse(&text);
    assert!(
        !scrape
            .samples
            .iter()
            .any(|s| s.metric == "klaxon_oncall" && s.labels.get("schedule") == Some("support")),
        "{text}"
    );
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall_next_gap_seconds",
            &[("schedule", "support")]
        ),
        Some(0.0)
    );
    // The cover is over, and so is U0DAVE's week (Monday 10:00 in New York): U0ERIN holds it.
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall",
            &[
                ("schedule", "payments"),
                ("layer", "secondary"),
                ("user", "U0ERIN")
            ]
        ),
        Some(1.0),
        "{text}"
    );
}

#[tokio::test]
async fn the_served_metrics_carry_the_oncall_gauges() {
    let dir = schedules_dir();
    let k = spawn(
        SlackHttp,
        Options::default()
            .toml(&format!(
                "[oncall]\ndir = {:?}\n",
                dir.path().to_str().expect("utf-8")
            ))
            .manual_clock(),
    )
    .await;
    let text = reqwest::get(format!("{}/metrics", k.url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let scrape = parse(&text);
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall",
            &[
                ("schedule", "payments"),
                ("layer", "primary"),
                ("user", "U0ALICE")
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &scrape,
            "klaxon_oncall_gaps_next_7d",
            &[("schedule", "support")]
        ),
        Some(5.0),
        "{text}"
    );
    k.stop().await;
}
