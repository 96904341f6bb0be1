//! `klaxon doctor` against the fake Slack: a healthy setup passes, and each misconfiguration
//! produces its own FAIL line saying what to fix; the real binary exits non-zero on a failure.

use klaxon::app::PlatformSettings;
use klaxon::config::Config;
use klaxon::doctor::{self, Status};
use klaxon_tests::fake_slack::{self, BOT_TOKEN, FakeSlack};

fn settings(fake: &FakeSlack) -> PlatformSettings {
    PlatformSettings {
        slack_bot_token: Some(BOT_TOKEN.to_owned().into()),
        slack_app_token: Some(fake_slack::APP_TOKEN.to_owned().into()),
        slack_api_url: Some(fake.api_url.clone()),
        ..PlatformSettings::default()
    }
}

/// The doctor's lines for `config` against `fake`.
async fn lines(config: &str, settings: PlatformSettings) -> Vec<doctor::Check> {
    let config = Config::parse(config).expect("config");
    doctor::run(&config, &settings).await
}

fn failed(checks: &[doctor::Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(doctor::Check::line)
        .collect()
}

#[tokio::test]
async fn a_healthy_slack_setup_passes_and_says_what_it_cannot_check() {
    let fake = FakeSlack::start().await;
    let checks = lines("", settings(&fake)).await;
    let (report, passed) = doctor::report(&checks);
    assert!(passed, "{report}");
    for expected in [
        "ok    slack    transport: Socket Mode",
        "ok    slack    token: works: workspace Acme (T0TEAM) as bot user U0KLAXON",
        "ok    slack    scopes: all 16 scopes",
        "ok    slack    paging channel: #incidents (C0INCIDENTS), public, Klaxon posts without joining (chat:write.public)",
        "check slack    /inc: Slack's Web API cannot list an app's slash commands",
    ] {
        assert!(report.contains(expected), "{expected:?} in\n{report}");
    }
    assert!(!report.contains(BOT_TOKEN), "{report}");
}

#[tokio::test]
async fn each_misconfiguration_has_its_own_line() {
    // A token Slack does not know.
    let fake = FakeSlack::start().await;
    let mut wrong = settings(&fake);
    wrong.slack_bot_token = Some("xoxb-not-the-token".to_owned().into());
    let f = failed(&lines("", wrong).await);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].starts_with("FAIL  slack    token: Slack refused it: invalid_auth"),
        "{f:#?}"
    );

    // A revoked token.
    fake.break_token("token_revoked");
    let f = failed(&lines("", settings(&fake)).await);
    assert!(
        f[0].contains("token_revoked") && f[0].contains("reinstall"),
        "{f:#?}"
    );

    // A scope taken away.
    let fake = FakeSlack::start().await;
    fake.remove_scope("users:read");
    let f = failed(&lines("", settings(&fake)).await);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].starts_with("FAIL  slack    scopes: missing users:read"),
        "{f:#?}"
    );

    // A paging channel name that does not exist.
    let fake = FakeSlack::start().await;
    let config = "[incidents]\npaging_channel = \"war-room\"";
    let f = failed(&lines(config, settings(&fake)).await);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].starts_with("FAIL  slack    paging channel: incidents.paging_channel = \"war-room\": Slack says no such channel exists for Klaxon; if it is private, invite Klaxon"),
        "{f:#?}"
    );

    // A private paging channel Klaxon is not in, by ID; once invited, it passes.
    let config = "[incidents]\npaging_channel = \"G0ONCALL\"";
    fake.add_channel("G0ONCALL", "oncall", true, false);
    let f = failed(&lines(config, settings(&fake)).await);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].contains("\"G0ONCALL\": Slack says no such channel exists for Klaxon; if it is private, invite Klaxon to it (/invite @Klaxon"), "{f:#?}");
    fake.add_channel("G0ONCALL", "oncall", true, true);
    let checks = lines(config, settings(&fake)).await;
    assert!(failed(&checks).is_empty(), "{:#?}", failed(&checks));
    assert!(checks.iter().any(|c| {
        c.line()
            .contains("#oncall (G0ONCALL), private, Klaxon is a member")
    }));

    // An archived paging channel.
    let fake = FakeSlack::start().await;
    fake.take_name("old-incidents");
    let id = fake.channel_named("old-incidents").expect("channel").id;
    let config = format!("[incidents]\npaging_channel = \"{id}\"");
    let f = failed(&lines(&config, settings(&fake)).await);
    assert!(f.len() == 1 && f[0].contains("is archived"), "{f:#?}");

    // Without chat:write.public, a public paging channel Klaxon is not in: two lines.
    let fake = FakeSlack::start().await;
    fake.remove_scope("chat:write.public");
    let f = failed(&lines("", settings(&fake)).await);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert!(f[0].contains("missing chat:write.public"), "{f:#?}");
    assert!(
        f[1].contains("Klaxon is not in it and lacks chat:write.public"),
        "{f:#?}"
    );

    // An alert route's channel is checked like the paging channel.
    let fake = FakeSlack::start().await;
    let config = "[[alerts.routes]]\nname = \"db\"\ntargets = [{ platform = \"slack\", workspace = \"T0TEAM\", channel = \"C0GONE\" }]";
    let f = failed(&lines(config, settings(&fake)).await);
    assert!(
        f.len() == 1
            && f[0].starts_with("FAIL  slack    alert route db: alerts.routes target = \"C0GONE\""),
        "{f:#?}"
    );

    // No transport.
    let mut none = settings(&fake);
    none.slack_app_token = None;
    let f = failed(&lines("", none).await);
    assert!(
        f.len() == 1 && f[0].contains("neither SLACK_APP_TOKEN"),
        "{f:#?}"
    );
}

#[tokio::test]
async fn the_binary_exits_non_zero_when_a_check_fails() {
    let fake = FakeSlack::start().await;
    fake.remove_scope("pins:write");
    let dir = tempfile::tempdir().expect("tmp");
    let run = |fake: &FakeSlack| {
        let mut cmd = crate::cli::klaxon();
        cmd.current_dir(dir.path())
            .arg("doctor")
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_APP_TOKEN", fake_slack::APP_TOKEN)
            .env("SLACK_API_URL", &fake.api_url);
        cmd
    };
    let out = tokio::task::spawn_blocking({
        let mut cmd = run(&fake);
        move || cmd.output()
    })
    .await
    .expect("join")
    .expect("run klaxon doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL  slack    scopes: missing pins:write"),
        "{stdout}"
    );
    assert!(stdout.contains("1 of "), "{stdout}");
    assert!(
        !stdout.contains(BOT_TOKEN) && !String::from_utf8_lossy(&out.stderr).contains(BOT_TOKEN)
    );
    let healthy = FakeSlack::start().await;
    let out = tokio::task::spawn_blocking({
        let mut cmd = run(&healthy);
        move || cmd.output()
    })
    .await
    .expect("join")
    .expect("run klaxon doctor");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
