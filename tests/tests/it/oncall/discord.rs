//! `/inc oncall` end to end over the Discord gateway against the fake Discord: the answer to
//! the asker only, people shown as mentions that notify nobody, and a cover typed with a
//! Discord mention.

use klaxon_tests::fake_discord::GENERAL;
use klaxon_tests::spawn::discord::{ONCALL, ephemeral};
use klaxon_tests::spawn::{Discord, Options, spawn};

/// A weekly rotation of two Discord users, handing off on Mondays at 09:00 UTC.
const TEAM: &str = r#"
[[layers]]
name = "primary"
participants = ["100000000000000011", "100000000000000012"]
rotation = "weekly"
start = "2026-11-16"
"#;

#[tokio::test]
async fn oncall_over_discord_answers_the_asker_and_pings_nobody() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("team.toml"), TEAM).expect("write");
    let k = spawn(
        Discord,
        Options::default()
            .toml(&format!(
                "[oncall]\ndir = {:?}\n",
                dir.path().to_str().expect("utf-8")
            ))
            .manual_clock(),
    )
    .await;
    // Monday 2026-11-23 09:00 UTC: the second week, the second participant.
    let text = ephemeral(&k.say(ONCALL, GENERAL, "/inc oncall").await);
    assert_eq!(
        text,
        "**On call for team**\n• primary: <@100000000000000012> until 2026-11-30 09:00 UTC · next <@100000000000000011>"
    );
    let text = ephemeral(
        &k.say(
            ONCALL,
            GENERAL,
            "/inc oncall cover <@100000000000000011> 4h team",
        )
        .await,
    );
    assert!(
        // Discord Markdown: `#` and backticks in Klaxon's own text are escaped.
        text.starts_with(
            "Cover \\#1: <@100000000000000011> holds team/primary until 2026-11-23 13:00 UTC."
        ),
        "{text}"
    );
    let text = ephemeral(&k.say(ONCALL, GENERAL, "/inc oncall team").await);
    assert!(
        text.contains("• primary: <@100000000000000011> (cover) until 2026-11-23 13:00 UTC · next <@100000000000000012>"),
        "{text}"
    );
    // Answers only: nothing was posted anywhere.
    k.settled().await;
    assert!(k.fake.calls_to("POST", "/channels/*/messages").is_empty());
    let _ = k.stop().await;
}
