//! Handoffs across daylight-saving changes and a leap day, on the manual clock: a handoff at a
//! local time a change skips happens at the end of the gap, one at a time that happens twice at
//! the first occurrence, in Europe/Berlin, America/New_York and Australia/Lord_Howe (whose
//! clocks move by half an hour).

use chrono::{DateTime, Utc};
use klaxon::config::Config;
use klaxon_commands::ReplyKind;
use klaxon_tests::TestBot;

/// One schedule, `dst`, with a daily layer per case; `allow_gaps` since each starts on its own
/// date.
const DST: &str = r#"
allow_gaps = true

# Berlin skips 02:00-03:00 on 2027-03-28 and repeats it on 2026-10-25.
[[layers]]
name = "berlin"
participants = ["anna", "ben"]
rotation = "daily"
start = "2026-10-24"
handoff = "02:30"
time_zone = "Europe/Berlin"

# New York repeats 01:00-02:00 on 2026-11-01.
[[layers]]
name = "newyork-fold"
participants = ["anna", "ben"]
rotation = "daily"
start = "2026-10-31"
handoff = "01:30"
time_zone = "America/New_York"

# New York skips 02:00-03:00 on 2027-03-14.
[[layers]]
name = "newyork-gap"
participants = ["anna", "ben"]
rotation = "daily"
start = "2027-03-13"
handoff = "02:30"
time_zone = "America/New_York"

# Lord Howe Island skips 02:00-02:30 on 2026-10-04 (UTC+10:30 to UTC+11).
[[layers]]
name = "lordhowe"
participants = ["anna", "ben"]
rotation = "daily"
start = "2026-10-03"
handoff = "02:15"
time_zone = "Australia/Lord_Howe"

# Weekly from a leap day, in New York, into summer time (2028-03-12).
[[layers]]
name = "leap"
participants = ["anna", "ben"]
rotation = "weekly"
start = "2028-02-29"
handoff = "09:00"
time_zone = "America/New_York"
"#;

async fn bot(dir: &tempfile::TempDir) -> TestBot {
    std::fs::write(dir.path().join("dst.toml"), DST).expect("write schedule");
    let config = Config::parse(&format!(
        "[oncall]\ndir = {:?}\n",
        dir.path().to_str().expect("utf-8")
    ))
    .expect("config");
    TestBot::with_config(config).await
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// `/inc oncall dst/<layer>` at `when`, the layer's line.
async fn line_at(bot: &TestBot, when: &str, layer: &str) -> String {
    bot.clock.set(at(when));
    let reply = bot
        .say("oncall", "general", &format!("/inc oncall dst/{layer}"))
        .await;
    assert_eq!(reply.kind, ReplyKind::Ok, "{}", reply.to_plain());
    let text = reply.to_plain();
    text.lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no layer line: {text}"))
        .to_owned()
}

#[tokio::test]
async fn handoffs_in_skipped_and_repeated_local_times_on_the_manual_clock() {
    let dir = tempfile::tempdir().expect("tmp");
    let bot = bot(&dir).await;
    for (when, layer, expected) in [
        // Berlin's autumn: 02:30 happens first at 00:30 UTC (CEST), and the handoff is then.
        (
            "2026-10-24T12:00:00Z",
            "berlin",
            "• berlin: @anna until 2026-10-25 00:30 UTC · next @ben",
        ),
        // In the repeated hour (02:15 CET, the second one), the new shift holds, for 25 hours.
        (
            "2026-10-25T01:15:00Z",
            "berlin",
            "• berlin: @ben until 2026-10-26 01:30 UTC · next @anna",
        ),
        // Berlin's spring: 02:30 does not exist, so the handoff is at 03:00 CEST (01:00 UTC).
        (
            "2027-03-27T12:00:00Z",
            "berlin",
            "• berlin: @anna until 2027-03-28 01:00 UTC · next @ben",
        ),
        (
            "2027-03-28T01:00:00Z",
            "berlin",
            "• berlin: @ben until 2027-03-29 00:30 UTC · next @anna",
        ),
        // New York's autumn: 01:30 first happens in EDT (05:30 UTC).
        (
            "2026-10-31T12:00:00Z",
            "newyork-fold",
            "• newyork-fold: @anna until 2026-11-01 05:30 UTC · next @ben",
        ),
        (
            "2026-11-01T06:15:00Z",
            "newyork-fold",
            "• newyork-fold: @ben until 2026-11-02 06:30 UTC · next @anna",
        ),
        // New York's spring: 02:30 does not exist, so the handoff is at 03:00 EDT (07:00 UTC).
        (
            "2027-03-13T12:00:00Z",
            "newyork-gap",
            "• newyork-gap: @anna until 2027-03-14 07:00 UTC · next @ben",
        ),
        // Lord Howe's spring: 02:15 does not exist, so the handoff is at 02:30 (UTC+11).
        (
            "2026-10-03T12:00:00Z",
            "lordhowe",
            "• lordhowe: @anna until 2026-10-03 15:30 UTC · next @ben",
        ),
        (
            "2026-10-03T15:30:00Z",
            "lordhowe",
            "• lordhowe: @ben until 2026-10-04 15:15 UTC · next @anna",
        ),
        // From a leap day, weekly: 09:00 EST then 09:00 EDT after 2028-03-12.
        (
            "2028-02-29T14:00:00Z",
            "leap",
            "• leap: @anna until 2028-03-07 14:00 UTC · next @ben",
        ),
        (
            "2028-03-08T00:00:00Z",
            "leap",
            "• leap: @ben until 2028-03-14 13:00 UTC · next @anna",
        ),
    ] {
        assert_eq!(
            line_at(&bot, when, layer).await,
            expected,
            "{layer} at {when}"
        );
    }
}

#[test]
fn the_rota_over_a_change_shows_the_local_handoff_time_at_the_end_of_the_gap() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("dst.toml"), DST).expect("write schedule");
    // Over Berlin's spring change the rota hands off at 03:00 local (the end of the gap), then
    // at 02:30 again.
    let (schedules, problems) = klaxon::oncall::Schedules::load_dir(dir.path());
    assert!(problems.is_empty(), "{problems:?}");
    let rota = klaxon::oncall::rota(
        &schedules.by_name["dst"],
        at("2027-03-27T00:00:00Z"),
        at("2027-03-30T00:00:00Z"),
        &std::collections::BTreeMap::new(),
    );
    assert!(
        rota.contains(
            "dst/berlin (Europe/Berlin)\n\
             \x20 2027-03-27 00:00 UTC → 2027-03-27 01:30 UTC  (Sat 01:00 local)  ben\n\
             \x20 2027-03-27 01:30 UTC → 2027-03-28 01:00 UTC  (Sat 02:30 local)  anna\n\
             \x20 2027-03-28 01:00 UTC → 2027-03-29 00:30 UTC  (Sun 03:00 local)  ben\n\
             \x20 2027-03-29 00:30 UTC → 2027-03-30 00:00 UTC  (Mon 02:30 local)  anna\n"
        ),
        "{rota}"
    );
}
