//! Klaxon when Slack says no: a refused token pauses the calls and a new token sends them, a
//! broken socket makes `/readyz` say so, a paging channel that does not exist for Klaxon is
//! told to the declarer (and a name that does not resolve stops start-up), and a refused click
//! reaches the person who clicked.

use klaxon_tests::fake_slack::{self, BOT_TOKEN, FakeSlack, GENERAL};
use klaxon_tests::spawn::{Bot, Options, SlackHttp, SlackSocket, try_spawn};
use serde_json::Value;
use std::time::Duration;

/// Serves Klaxon on the database in `dir` against `fake`, with `token`, over HTTP or Socket
/// Mode (ready once its endpoints answer); `Err` when start-up fails.
async fn serve_on(
    fake: &FakeSlack,
    dir: tempfile::TempDir,
    token: &str,
    socket: bool,
    config: &str,
) -> Result<Bot<FakeSlack>, String> {
    let mut settings = klaxon_tests::spawn::slack::settings(fake, socket);
    settings.slack_bot_token = Some(token.to_owned().into());
    let options = Options::default()
        .fake(fake.clone())
        .dir(dir)
        .settings(settings)
        .toml(config)
        .started_only();
    if socket {
        try_spawn(SlackSocket, options).await
    } else {
        try_spawn(SlackHttp, options).await
    }
}

/// `/readyz`: its status and text.
async fn ready(k: &Bot<FakeSlack>) -> (u16, String) {
    let r = reqwest::get(format!("{}/readyz", k.url))
        .await
        .expect("readyz");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Polls `/readyz` until its status is `status` (10 s at most).
async fn until_ready_is(k: &Bot<FakeSlack>, status: u16) -> (u16, String) {
    let mut last = (0, String::new());
    klaxon_tests::wait::eventually(klaxon_tests::wait::LIMIT, async || {
        last = ready(k).await;
        last.0 == status
    })
    .await;
    last
}

fn posts_with(fake: &FakeSlack, needle: &str) -> Vec<Value> {
    fake.calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.error.is_none())
        .filter(|c| c.body["text"].as_str().unwrap_or("").contains(needle))
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn a_revoked_token_pauses_slacks_calls_and_a_new_token_sends_them() {
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let k = serve_on(&fake, dir, BOT_TOKEN, false, "")
        .await
        .expect("starts");
    k.say("U0ONCALL", GENERAL, "declare sev2 Queue backlog")
        .await;
    assert!(
        fake.until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    fake.break_token("token_revoked");
    // The command is answered (it needs nothing from Slack); its post waits.
    let reply = k.say("U0ONCALL", "C0000001", "note paused-note-4e1").await;
    assert!(
        !reply["text"]
            .as_str()
            .unwrap_or("")
            .starts_with(":warning:"),
        "{reply}"
    );
    let (status, why) = until_ready_is(&k, 503).await;
    assert_eq!(status, 503, "{why}");
    assert!(why.contains("slack calls paused: token_revoked"), "{why}");
    assert!(!why.contains(BOT_TOKEN), "{why}");
    assert!(posts_with(&fake, "paused-note-4e1").is_empty());
    let (_, dir) = k.stop().await;
    // The reinstalled app's token: the queued post goes out at start, once.
    fake.add_token("xoxb-reinstalled");
    let k = serve_on(&fake, dir, "xoxb-reinstalled", false, "")
        .await
        .expect("starts");
    assert!(
        fake.until(|_| posts_with(&fake, "paused-note-4e1").len() == 1)
            .await
    );
    assert_eq!(until_ready_is(&k, 200).await.0, 200);
    k.settled().await;
    assert_eq!(posts_with(&fake, "paused-note-4e1").len(), 1);
    k.stop().await;
}

#[tokio::test]
async fn readyz_is_not_ready_while_the_socket_is_down() {
    let fake = FakeSlack::start().await;
    let k = serve_on(
        &fake,
        tempfile::tempdir().expect("tmp"),
        BOT_TOKEN,
        true,
        "",
    )
    .await
    .expect("starts");
    assert_eq!(until_ready_is(&k, 200).await.0, 200);
    let all = usize::try_from(klaxon_slack::socket::CONNECTIONS).expect("a count");
    assert!(fake.until(|_| fake.open_sockets() == all).await);
    // Slack drops every connection and reconnecting works: ready again on the new hellos.
    fake.drop_socket(false);
    assert!(
        fake.until(|_| fake.connections() == 2 * all as u64 && fake.open_sockets() == all)
            .await
    );
    assert_eq!(until_ready_is(&k, 200).await.0, 200);
    // One connection of several lost, and Slack refusing new ones: the others carry on.
    fake.refuse_sockets();
    fake.drop_one_socket();
    assert!(fake.until(|_| fake.open_sockets() == all - 1).await);
    assert_eq!(until_ready_is(&k, 200).await.0, 200);
    // Every connection dropped, and Slack refuses new ones: not ready.
    fake.drop_socket(true);
    let (status, why) = until_ready_is(&k, 503).await;
    assert_eq!(
        (status, why.as_str()),
        (503, "Slack Socket Mode not connected\n")
    );
    k.stop().await;
}

#[tokio::test]
async fn a_paging_channel_klaxon_cannot_see_is_told_to_the_declarer() {
    let fake = FakeSlack::start().await;
    let k = serve_on(
        &fake,
        tempfile::tempdir().expect("tmp"),
        BOT_TOKEN,
        false,
        "",
    )
    .await
    .expect("starts");
    // #incidents becomes private without Klaxon in it, as if it did not exist.
    fake.add_channel(fake_slack::INCIDENTS, "incidents", true, false);
    k.say("U0ONCALL", GENERAL, "declare sev2 Login errors")
        .await;
    assert!(
        fake.until(|_| !posts_with(&fake, "could not post in").is_empty())
            .await,
        "{:#?}",
        fake.calls()
    );
    let notice = &posts_with(&fake, "could not post in")[0];
    assert_eq!(notice["channel"], "C0000001");
    let text = notice["text"].as_str().unwrap_or("");
    assert!(
        text.starts_with("<@U0ONCALL> ⚠️ Klaxon could not post in"),
        "{text}"
    );
    assert!(
        text.contains("channel_not_found") && text.contains("invite Klaxon"),
        "{text}"
    );
    k.stop().await;
}

#[tokio::test]
async fn a_paging_channel_name_klaxon_cannot_see_stops_start_up_naming_the_key() {
    let fake = FakeSlack::start().await;
    fake.add_channel("G0SECRET", "secret", true, false);
    let config = "[incidents]\npaging_channel = \"secret\"";
    let err = serve_on(
        &fake,
        tempfile::tempdir().expect("tmp"),
        BOT_TOKEN,
        false,
        config,
    )
    .await
    .err()
    .expect("start-up fails");
    assert!(
        err.contains("incidents.paging_channel = \"secret\": no Slack channel named #secret")
            && err.contains("invite Klaxon"),
        "{err}"
    );
    // Invited, the name resolves to the ID and the announcement goes there.
    fake.add_channel("G0SECRET", "secret", true, true);
    let k = serve_on(
        &fake,
        tempfile::tempdir().expect("tmp"),
        BOT_TOKEN,
        false,
        config,
    )
    .await
    .expect("starts");
    k.say("U0ONCALL", GENERAL, "declare sev3 Slow search").await;
    assert!(
        fake.until(|_| !posts_with(&fake, "Slow search").is_empty())
            .await
    );
    assert_eq!(posts_with(&fake, "Slow search")[0]["channel"], "G0SECRET");
    k.stop().await;
}

#[tokio::test]
async fn a_refused_click_reaches_the_person_who_clicked() {
    let fake = FakeSlack::start().await;
    let k = serve_on(
        &fake,
        tempfile::tempdir().expect("tmp"),
        BOT_TOKEN,
        false,
        "",
    )
    .await
    .expect("starts");
    k.say("U0ONCALL", GENERAL, "declare sev2 Disk full").await;
    assert!(
        fake.until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    for trigger in ["click-1", "click-2"] {
        let click = fake.click("resolve", 1, "U0BOB", fake_slack::INCIDENTS, trigger);
        assert_eq!(
            fake_slack::interact(&k.url, &click).await.status().as_u16(),
            200
        );
    }
    assert!(fake.until(|_| fake.responses().len() == 2).await);
    let answers = fake.responses();
    assert_eq!(answers[0]["replace_original"], false);
    assert!(
        !answers[0]["text"]
            .as_str()
            .unwrap_or("")
            .starts_with(":warning:"),
        "{answers:#?}"
    );
    let refused = answers[1]["text"].as_str().unwrap_or("");
    assert!(
        refused.starts_with(":warning:") && refused.contains("resolved"),
        "{refused}"
    );
    k.stop().await;
}

/// The auth pause ends by itself, on the engine's clock: every minute one queued call is tried
/// again, and once Slack takes the token again the queued calls go out, in order and once,
/// with no restart.
#[tokio::test]
async fn a_paused_slack_resumes_by_itself_once_the_token_works_again() {
    use klaxon::outbox::AUTH_RECHECK;
    let fake = FakeSlack::start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let clock = klaxon::clock::ManualClock::new(klaxon_tests::start_time());
    let k = crate::archive::SlackBot::start(&fake, &dir.path().join("k.db"), "", &clock).await;
    k.say(GENERAL, "declare sev2 Queue backlog").await;
    let name = fake.calls_to("conversations.create")[0]["name"]
        .as_str()
        .map(str::to_owned)
        .expect("the channel's name");
    let id = fake.channel_named(&name).expect("the incident channel").id;
    fake.break_token("token_revoked");
    k.say(&id, "note paused-note-1").await;
    k.say(&id, "note paused-note-2").await;
    let paused = k.app.dispatcher.paused();
    assert!(
        paused.len() == 1 && paused[0].1.contains("token_revoked"),
        "{paused:?}"
    );
    // A minute later one call tries the token again, and Slack still refuses it.
    let second = Duration::from_secs(1);
    k.advance(AUTH_RECHECK).await;
    assert_eq!(k.app.dispatcher.paused().len(), 1, "still refused");
    assert!(posts_with(&fake, "paused-note").is_empty());
    // The token works again: at the next recheck the queued calls go out, once, in order.
    fake.restore_token();
    k.advance(AUTH_RECHECK - second).await;
    assert!(posts_with(&fake, "paused-note").is_empty());
    k.advance(second).await;
    let sent: Vec<String> = posts_with(&fake, "paused-note")
        .iter()
        .map(|p| p["text"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        sent.len() == 2 && sent[0].contains("paused-note-1") && sent[1].contains("paused-note-2"),
        "{sent:#?}"
    );
    assert!(k.app.dispatcher.paused().is_empty());
    k.advance(10 * AUTH_RECHECK).await;
    assert_eq!(posts_with(&fake, "paused-note").len(), 2, "once each");
    k.stop().await;
}
