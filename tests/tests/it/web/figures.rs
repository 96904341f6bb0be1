//! The pages' figures elsewhere: `/metrics` histograms of time to acknowledge and to resolve
//! by severity, and `klaxon report` (text and JSON).

use klaxon::clock::Clock as _;

use super::scripted;

#[tokio::test]
async fn metrics_carry_time_to_acknowledge_and_resolve_by_severity() {
    let (bot, _target) = scripted().await;
    let text = klaxon::metrics::render(bot.store()).await.expect("render");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    for line in [
        "# TYPE klaxon_time_to_acknowledge_seconds histogram",
        "# TYPE klaxon_time_to_resolve_seconds histogram",
        // INC-1 (SEV1): acknowledged after 3 minutes, resolved after 46.
        "klaxon_time_to_acknowledge_seconds_sum{severity=\"SEV1\"} 180.0",
        "klaxon_time_to_acknowledge_seconds_count{severity=\"SEV1\"} 1",
        "klaxon_time_to_acknowledge_seconds_bucket{le=\"300.0\",severity=\"SEV1\"} 1",
        "klaxon_time_to_acknowledge_seconds_bucket{le=\"120.0\",severity=\"SEV1\"} 0",
        "klaxon_time_to_resolve_seconds_sum{severity=\"SEV1\"} 2760.0",
        "klaxon_time_to_resolve_seconds_count{severity=\"SEV1\"} 1",
        // Nothing acknowledged at the others' severities yet, but every severity is there.
        "klaxon_time_to_acknowledge_seconds_count{severity=\"SEV2\"} 0",
        "klaxon_time_to_resolve_seconds_count{severity=\"SEV4\"} 0",
    ] {
        assert!(text.contains(line), "{line:?} missing from {text}");
    }
}

#[tokio::test]
async fn the_report_gives_the_same_figures_as_text_and_json() {
    let (bot, _target) = scripted().await;
    bot.advance("7d").await;
    let now = bot.clock.now();
    let since = now - chrono::Duration::days(30);
    let mut text = String::new();
    klaxon::report::write(bot.store(), since, now, false, &mut text)
        .await
        .expect("report");
    for line in [
        "Incidents declared from 2026-11-01 09:46:00 UTC to 2026-12-01 09:46:00 UTC",
        "SEV1             1  3m       46m",
        "SEV4             0  —        —",
        "2026-11-23  SEV1     1  MTTA 3m       MTTR 46m",
        "Overdue follow-ups: 1",
        "  INC-1 1. Alert on payment timeouts · @dave · due 2026-11-24",
        "Overdue postmortems: 1",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }
    let mut json = String::new();
    klaxon::report::write(bot.store(), since, now, true, &mut json)
        .await
        .expect("report");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["by_severity"][0]["severity"], "SEV1");
    assert_eq!(v["by_severity"][0]["mtta_seconds"], 180.0);
    assert_eq!(v["by_severity"][0]["mttr_seconds"], 2760.0);
    assert_eq!(v["weeks"][0]["week"], "2026-11-23");
    assert_eq!(v["overdue_followups"][0]["owner"], "@dave");
    assert_eq!(v["overdue_postmortems"][0]["incident"], "INC-1");
    // A window that starts after every incident counts none.
    let mut empty = String::new();
    klaxon::report::write(bot.store(), now, now, false, &mut empty)
        .await
        .expect("report");
    assert!(empty.contains("SEV1             0"), "{empty}");
}

#[test]
fn the_report_command_refuses_a_bad_window() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let db = db.to_str().expect("utf-8");
    let out = crate::cli::klaxon()
        .args(["migrate", "--db", db])
        .output()
        .expect("migrate");
    assert!(out.status.success());
    let out = crate::cli::klaxon()
        .args(["report", "--db", db, "--since", "400d"])
        .output()
        .expect("report");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--since") && err.contains("366d"), "{err}");
    let out = crate::cli::klaxon()
        .args(["report", "--db", db, "--json"])
        .output()
        .expect("report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["overdue_followups"], serde_json::json!([]));
}
