//! The real `klaxon` binary: the console end to end, and the CLI reading what it stored.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use klaxon_tests::scenario;

/// Builds the `klaxon` binary once for the whole test run.
pub(crate) fn klaxon() -> Command {
    let mut cmd = Command::new(klaxon_tests::binary::klaxon());
    cmd.env_remove("KLAXON_DATABASE_URL")
        .env_remove("KLAXON_CONFIG")
        .env_remove("RUST_LOG");
    cmd
}

fn run(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn klaxon");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("klaxon exits")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn console_runs_the_scenario_and_the_timeline_survives_the_process() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let db = db.to_str().expect("utf-8");
    let out = run(
        klaxon().args([
            "console",
            "--db",
            db,
            "--virtual-time",
            "--start",
            "2026-11-23T09:00:00Z",
        ]),
        scenario::FOUNDATION,
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}\nstdout: {stdout}",
        text(&out.stderr)
    );
    let ch = "inc-2026-11-23-checkout-api-returning-500s";
    for expected in [
        format!(
            "[#general] (only @oncall) 🚨 INC-1 declared (SEV2) → #{ch}. Next: /inc ack, /inc lead @someone."
        ),
        format!(
            "[#{ch}] channel created · topic: SEV2 · triage · IC: unassigned · INC-1 Checkout API returning 500s · members: @oncall"
        ),
        format!("(you are now in #{ch})"),
        "[#incidents] 🟠 SEV2 · INC-1 · Checkout API returning 500s".to_owned(),
        format!("[#{ch}] 📌 pinned the summary"),
        format!("[#{ch}] (only @oncall) ✓ INC-1 acknowledged."),
        "[#incidents] (edited) 🔴 SEV1 · INC-1 · Checkout API returning 500s".to_owned(),
        "[#incidents] (edited) ✅ Resolved · SEV1 · INC-1 · Checkout API returning 500s".to_owned(),
        format!("[#{ch}] ✅ Resolved by @oncall after 0s: Rollback fixed it"),
    ] {
        assert!(
            stdout.contains(&expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // A reply for every command line.
    assert_eq!(
        stdout.matches("(only @oncall)").count(),
        scenario::foundation().len(),
        "{stdout}"
    );

    let out = run(klaxon().args(["timeline", "1", "--db", db]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let timeline = text(&out.stdout);
    let lines: Vec<&str> = timeline.lines().collect();
    assert_eq!(
        lines[0],
        "INC-1 · SEV1 · resolved · Checkout API returning 500s"
    );
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|l| {
            assert!(l.starts_with("2026-11-23 09:00:00 UTC  @oncall"), "{l}");
            l.split_whitespace().nth(4).expect("kind")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "declared",
            "acknowledged",
            "role",
            "update",
            "severity",
            "status",
            "note",
            "resolved"
        ]
    );

    let out = run(
        klaxon().args(["timeline", "INC-1", "--json", "--db", db]),
        "",
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["incident"]["status"], "resolved");
    assert_eq!(json["timeline"].as_array().map(Vec::len), Some(8));
    assert_eq!(json["timeline"][0]["at"], "2026-11-23T09:00:00Z");

    let out = run(klaxon().args(["incidents", "list", "--db", db]), "");
    let list = text(&out.stdout);
    assert!(list.contains("console:local    INC-1   SEV1  resolved    2026-11-23 09:00:00 UTC  Checkout API returning 500s"), "{list}");

    let out = run(klaxon().args(["incidents", "show", "1", "--db", db]), "");
    let show = text(&out.stdout);
    assert!(show.contains("IC:           @alice"), "{show}");
    assert!(show.contains("Resolution:   Rollback fixed it"), "{show}");
}

#[test]
fn virtual_time_moves_only_when_told() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let out = run(
        klaxon().args([
            "console",
            "--db",
            db.to_str().expect("utf-8"),
            "--virtual-time",
            "--start",
            "2026-11-23T09:00:00Z",
        ]),
        "/inc declare sev1 x\n:advance 16m\n/inc summary\n:advance soon\n",
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("(time is now 2026-11-23 09:16:00 UTC)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Age: 16m (declared 09:00 UTC by @oncall)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(`soon` is not a duration. Write it like `90s`, `15m` or `1h30m`.)"),
        "{stdout}"
    );
    // Without --virtual-time the clock is real and says so.
    let out = run(
        klaxon().args(["console", "--db", db.to_str().expect("utf-8")]),
        ":advance 5m\n",
    );
    assert!(
        text(&out.stdout).contains("time is real here"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn console_directives_switch_user_and_channel() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let out = run(
        klaxon().args(["console", "--db", db.to_str().expect("utf-8")]),
        "# a comment\n:user bob\n/inc list\n:channel #random\n/inc ack\nhello\n:quit\n/inc list\n",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("(you are now @bob)"), "{stdout}");
    assert!(
        stdout.contains("[#general] (only @bob) No open incidents."),
        "{stdout}"
    );
    assert!(
        stdout.contains("[#random] (only @bob) ⚠️ `/inc ack` works in an incident's channel."),
        "{stdout}"
    );
    assert!(
        stdout.contains("(not a command: start with /inc"),
        "{stdout}"
    );
    // Nothing after :quit runs.
    assert_eq!(stdout.matches("No open incidents.").count(), 1, "{stdout}");
}

#[test]
fn cli_errors_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("none.db");
    let db = db.to_str().expect("utf-8");
    let out = run(klaxon().args(["timeline", "1", "--db", db]), "");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("klaxon: error: no database at"), "{err}");
    assert!(
        !std::path::Path::new(db).exists(),
        "reading commands never create a database"
    );

    let out = run(klaxon().args(["migrate", "--db", db]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(klaxon().args(["timeline", "7", "--db", db]), "");
    assert_eq!(
        text(&out.stderr).trim_end(),
        "klaxon: error: no INC-7 in this database"
    );
    let out = run(klaxon().args(["incidents", "show", "x7", "--db", db]), "");
    assert_eq!(
        text(&out.stderr).trim_end(),
        "klaxon: error: \"x7\" is not an incident number (like 7 or INC-7)"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[incidents]\npaging = \"x\"\n").expect("write");
    let out = run(
        klaxon().args(["config", "check", "--config", bad.to_str().expect("utf-8")]),
        "",
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("unknown field `paging`"), "{err}");
    let out = run(
        klaxon().args(["config", "check", "--config", "/nonexistent/klaxon.toml"]),
        "",
    );
    assert!(!out.status.success());
}

#[test]
fn config_check_accepts_the_example_file() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../klaxon.example.toml");
    let out = run(klaxon().args(["config", "check", "--config", example]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("SEV1: acknowledge within 5m; updates every 15m."),
        "{stdout}"
    );
    assert!(
        stdout.contains("SEV4: acknowledge within next business day; no update reminders."),
        "{stdout}"
    );
}

#[test]
fn postmortem_export_prints_or_writes_the_stored_draft() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let db = db.to_str().expect("utf-8");
    let script = "/inc declare sev2 Checkout errors\n/inc impact Orders failed\n/inc resolve\n/inc postmortem\n/inc lesson Keep canaries\n/inc postmortem\n";
    let out = run(
        klaxon().args([
            "console",
            "--db",
            db,
            "--virtual-time",
            "--start",
            "2026-11-23T09:00:00Z",
        ]),
        script,
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("📎 INC-1-postmortem-v2.md"), "{stdout}");

    let latest = run(klaxon().args(["postmortem", "1", "--db", db]), "");
    assert!(latest.status.success(), "{}", text(&latest.stderr));
    let latest = text(&latest.stdout);
    assert!(
        latest.starts_with("# Incident 2026-11-23: Checkout errors\n"),
        "{latest}"
    );
    assert!(latest.contains("- Keep canaries"), "{latest}");

    let v1 = run(
        klaxon().args(["postmortem", "INC-1", "--version", "1", "--db", db]),
        "",
    );
    assert!(!text(&v1.stdout).contains("Keep canaries"));

    let file = dir.path().join("pm.md");
    let wrote = run(
        klaxon().args([
            "postmortem",
            "1",
            "--out",
            file.to_str().expect("utf-8"),
            "--db",
            db,
        ]),
        "",
    );
    assert!(wrote.status.success(), "{}", text(&wrote.stderr));
    assert_eq!(std::fs::read_to_string(&file).expect("written"), latest);

    let missing = run(
        klaxon().args(["postmortem", "1", "--version", "9", "--db", db]),
        "",
    );
    assert!(!missing.status.success());
    assert_eq!(
        text(&missing.stderr).trim_end(),
        "klaxon: error: INC-1 has no postmortem version 9"
    );
}

#[test]
fn runbooks_check_passes_the_examples_and_reports_lines() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../runbooks");
    let out = run(klaxon().args(["runbooks", "check", examples]), "");
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).ends_with("5 runbooks and 5 actions, all valid.\n"),
        "{}",
        text(&out.stdout)
    );

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("good.toml"),
        "id = \"good\"\ntitle = \"Good\"\ntriage = [\"look\"]\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("bad.toml"),
        "id = \"Bad Id\"\ntitle = \"Bad\"\ntriage = [\"a\"]\n\n[decision]\nstart = \"nowhere\"\n[decision.nodes.q]\nquestion = \"?\"\nyes = \"missing\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("syntax.toml"),
        "id = \"s\"\ntitle = \"S\"\ntriage = [\"a\"\n",
    )
    .expect("write");
    let out = run(
        klaxon().args(["runbooks", "check", dir.path().to_str().expect("utf-8")]),
        "",
    );
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let bad = dir.path().join("bad.toml");
    let bad = bad.display();
    assert!(lines.contains(&format!("{bad}:1:6: id `Bad Id` must be lowercase letters, digits and -, starting with a letter, at most 40").as_str()), "{stdout}");
    assert!(
        lines.contains(&format!("{bad}:6:9: start node `nowhere` is not defined").as_str()),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{bad}:7:"))
            && l.ends_with("`q` leads to `missing`, which is not a node")),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("syntax.toml:4:1: invalid array; expected `]`")),
        "{stdout}"
    );
    assert_eq!(
        text(&out.stderr).trim_end(),
        format!(
            "klaxon: error: 4 problems in 2 of 3 runbook files in {}",
            dir.path().display()
        )
    );
}

#[test]
fn oncall_check_passes_the_example_and_reports_lines_and_gaps() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../oncall");
    let out = run(klaxon().args(["oncall", "check", "--dir", examples]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("1 schedule, all valid, nobody missing in the next 90 days.\n"),
        "{}",
        text(&out.stdout)
    );

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("web.toml"),
        "[[layers]]\nname = \"primary\"\nparticipants = [\"U0A\"]\nrotation = \"fortnightly\"\nstart = \"2026-11-02\"\n",
    )
    .expect("write");
    // Weekdays 09:00–17:00 UTC only: every night and weekend is a gap.
    std::fs::write(
        dir.path().join("support.toml"),
        "[[layers]]\nname = \"primary\"\nparticipants = [\"U0B\"]\nrotation = \"weekly\"\nstart = \"2026-11-02\"\n[layers.restrict]\ndays = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\nhours = \"09:00-17:00\"\n",
    )
    .expect("write");
    let path = dir.path().to_str().expect("utf-8");
    let out = run(klaxon().args(["oncall", "check", "--dir", path]), "");
    assert!(!out.status.success());
    let stdout = text(&out.stdout);
    let web = dir.path().join("web.toml");
    assert!(
        stdout.contains(&format!(
            "{}:4:12: rotation `fortnightly` must be daily, weekly, a number of days (3d, at most 366d) or of hours (12h)",
            web.display()
        )),
        "{stdout}"
    );
    let support = dir.path().join("support.toml");
    assert!(
        stdout.lines().any(|l| l.starts_with(&format!(
            "{}:1:1: nobody is on call from ",
            support.display()
        )) && l
            .ends_with(" UTC (set allow_gaps = true if that is intended)")),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("problems in the schedules in"),
        "{}",
        text(&out.stderr)
    );

    // The valid schedule shows its rota; an unknown one is a clear error naming the valid ones.
    let out = run(
        klaxon().args([
            "oncall",
            "show",
            "support",
            "--from",
            "2026-11-02",
            "--days",
            "1",
            "--dir",
            path,
        ]),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "support/primary (UTC)\n  2026-11-02 09:00 UTC → 2026-11-02 17:00 UTC  (Mon 09:00 local)  U0B\n\
         gaps (nobody on call)\n  2026-11-02 00:00 UTC → 2026-11-02 09:00 UTC\n  2026-11-02 17:00 UTC → 2026-11-03 00:00 UTC\n"
    );
    let out = run(klaxon().args(["oncall", "show", "nope", "--dir", path]), "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no valid schedule `nope`")
            && text(&out.stderr).contains("(valid: support)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn oncall_show_prints_the_covers_set_in_chat() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let db = db.to_str().expect("utf-8");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../oncall");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(&config, format!("[oncall]\ndir = {examples:?}\n")).expect("write");
    let config = config.to_str().expect("utf-8");
    let out = run(
        klaxon().args([
            "console",
            "--db",
            db,
            "--config",
            config,
            "--virtual-time",
            "--start",
            "2026-12-07T12:00:00Z",
        ]),
        "/inc oncall cover @U0ZED 4h payments/primary\n",
    );
    assert!(
        text(&out.stdout)
            .contains("Cover #1: @U0ZED holds payments/primary until 2026-12-07 16:00 UTC"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let out = run(
        klaxon().args([
            "oncall",
            "show",
            "payments",
            "--from",
            "2026-12-07",
            "--days",
            "1",
            "--db",
            db,
            "--config",
            config,
        ]),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "  2026-12-07 12:00 UTC → 2026-12-07 16:00 UTC  (Mon 13:00 local)  U0ZED  (cover)\n"
        ),
        "{stdout}"
    );
    // Without the database the rota is the rotation's alone.
    let out = run(
        klaxon().args([
            "oncall",
            "show",
            "payments",
            "--from",
            "2026-12-07",
            "--days",
            "1",
            "--db",
            &format!("{db}.missing"),
            "--config",
            config,
        ]),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("U0ZED"),
        "{}",
        text(&out.stdout)
    );
}
