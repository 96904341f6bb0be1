//! Slack over Socket Mode: the shared scenario, redelivered envelopes, and a reconnection
//! on `refresh_requested` that loses and doubles nothing.

use klaxon_tests::fake_slack;
use klaxon_tests::scenario;
use klaxon_tests::spawn::slack::socket_command;
use klaxon_tests::spawn::{Options, SlackSocket, spawn};
use klaxon_tests::wait::{LIMIT, eventually, until};

use super::slack_mentions;

#[tokio::test]
async fn socket_mode_connects_and_runs_the_scenario() {
    let k = spawn(SlackSocket, Options::default()).await;
    assert!(
        until(LIMIT, || k.fake.connected()).await,
        "Klaxon opened the socket from apps.connections.open"
    );
    let ready = eventually(LIMIT, async || {
        reqwest::get(format!("{}/readyz", k.url))
            .await
            .expect("readyz")
            .status()
            .as_u16()
            == 200
    })
    .await;
    assert!(ready, "ready once Slack said hello");
    let mut channel = "C0GENERAL".to_owned();
    for (n, line) in scenario::foundation().into_iter().enumerate() {
        let text = slack_mentions(line.trim_start_matches("/inc").trim());
        let reply = k
            .fake
            .socket_command(socket_command(&channel, &text, &format!("sm-{n}")))
            .await;
        assert_eq!(reply["response_type"], "ephemeral", "{reply}");
        assert!(
            !reply["text"]
                .as_str()
                .unwrap_or(":warning:")
                .starts_with(":warning:"),
            "{line} → {reply}"
        );
        if n == 0 {
            assert!(
                k.fake
                    .until(|c| c.iter().any(|c| c.method == "conversations.create"))
                    .await
            );
            // Later commands come from the new channel, by its id, once Klaxon has it: the
            // summary posted there follows the channel's creation and its record (the
            // announcement in the paging channel waits for neither, past 2 s).
            channel = "C0000001".to_owned();
            assert!(
                k.fake
                    .until(|c| c
                        .iter()
                        .any(|c| c.method == "chat.postMessage" && c.body["channel"] == "C0000001"))
                    .await
            );
        }
    }
    // A redelivered envelope (same trigger) gets the same answer and changes nothing.
    let again = k
        .fake
        .socket_command(socket_command(&channel, "note marker-7f3a", "sm-note"))
        .await;
    let twice = k
        .fake
        .socket_command(socket_command(&channel, "note marker-7f3a", "sm-note"))
        .await;
    assert_eq!(again, twice);
    assert!(
        again["text"].as_str().unwrap_or("").starts_with("✓ Noted"),
        "{again}"
    );
    assert!(
        k.fake
            .until(|c| c
                .iter()
                .filter(|c| c.method == "chat.update")
                .any(|c| c.body["text"].as_str().unwrap_or("").contains("Resolved")))
            .await
    );
    let note = |c: &[fake_slack::ApiCall]| {
        c.iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.body["text"]
                        .as_str()
                        .unwrap_or("")
                        .contains("marker-7f3a")
            })
            .count()
    };
    assert!(
        k.fake.until(|c| note(c) >= 1).await,
        "{:#?}",
        k.fake
            .calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.body["text"]))
            .collect::<Vec<_>>()
    );
    k.settled().await;
    let notes = note(&k.fake.calls());
    assert_eq!(notes, 1);
    k.stop().await;
}

#[tokio::test]
async fn socket_mode_reconnects_on_refresh_requested_and_loses_or_doubles_nothing() {
    let k = spawn(SlackSocket, Options::default()).await;
    assert!(k.fake.until(|_| k.fake.connected()).await);
    k.fake
        .socket_command(socket_command(
            "C0GENERAL",
            "declare sev2 Cache stampede",
            "rc-1",
        ))
        .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    let before = k
        .fake
        .socket_command(socket_command(
            "C0000001",
            "note before-refresh-91c",
            "rc-2",
        ))
        .await;
    let all = usize::try_from(klaxon_slack::socket::CONNECTIONS).expect("a count");
    assert_eq!(k.fake.connections(), all as u64);
    k.fake.disconnect("refresh_requested");
    assert!(
        k.fake
            .until(|_| k.fake.connections() > all as u64 && k.fake.open_sockets() == all)
            .await,
        "Klaxon opened a new connection"
    );
    // Slack redelivers an envelope it may not have seen acknowledged: same answer, no effect.
    let again = k
        .fake
        .socket_command(socket_command(
            "C0000001",
            "note before-refresh-91c",
            "rc-2",
        ))
        .await;
    assert_eq!(before, again);
    // And the new connection carries new commands.
    let after = k
        .fake
        .socket_command(socket_command("C0000001", "note after-refresh-5d2", "rc-3"))
        .await;
    assert!(
        after["text"].as_str().unwrap_or("").starts_with("✓ Noted"),
        "{after}"
    );
    let count = |c: &[fake_slack::ApiCall], marker: &str| {
        c.iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.body["text"].as_str().unwrap_or("").contains(marker)
            })
            .count()
    };
    assert!(k.fake.until(|c| count(c, "after-refresh-5d2") == 1).await);
    k.settled().await;
    let calls = k.fake.calls();
    assert_eq!(count(&calls, "before-refresh-91c"), 1);
    assert_eq!(count(&calls, "after-refresh-5d2"), 1);
    assert_eq!(
        k.fake.connections(),
        all as u64 + 1,
        "one reconnection, not a storm"
    );
    k.stop().await;
}

/// Klaxon holds several Socket Mode connections, and Slack hands each envelope to one of them:
/// a command held up on one connection (its callback waiting on a `views.open` that never
/// answers) does not hold up commands on the others.
#[tokio::test]
async fn a_command_held_up_on_one_socket_mode_connection_does_not_hold_up_the_others() {
    let k = spawn(SlackSocket, Options::default()).await;
    let all = usize::try_from(klaxon_slack::socket::CONNECTIONS).expect("a count");
    assert!(all > 1, "more than one connection");
    assert_eq!(k.fake.open_sockets(), all);
    k.fake.stall("views.open");
    // `/inc` alone opens the declare form from inside the callback, which now never returns.
    let held = {
        let fake = k.fake.clone();
        let trigger = k.fake.trigger();
        tokio::spawn(async move {
            fake.socket_command(socket_command("C0GENERAL", "", &trigger))
                .await
        })
    };
    assert!(
        until(LIMIT, || k
            .fake
            .calls()
            .iter()
            .any(|c| c.method == "views.open"))
        .await,
        "the held command reached views.open"
    );
    // The next envelopes go to the other connections, in turn, and are answered.
    for n in 1..all.max(2) {
        declared_over_socket(
            &k.fake,
            &format!("Queue {n} backs up"),
            &format!("held-{n}"),
        )
        .await;
    }
    assert!(!held.is_finished(), "the held command is still held");
    assert!(k.fake.most_open_sockets() <= 10, "Slack allows an app 10");
    held.abort();
    k.fake.unstall();
    k.stop().await;
}

/// `slack.socket_connections` sets how many connections Klaxon holds (Slack allows an app 10,
/// across every replica): with 2, Slack sees 2, and commands are answered over them.
#[tokio::test]
async fn socket_connections_sets_how_many_connections_klaxon_holds() {
    let k = spawn(
        SlackSocket,
        Options::default().toml("[slack]\nsocket_connections = 2\n"),
    )
    .await;
    assert_eq!(k.fake.open_sockets(), 2);
    for n in 1..=3 {
        declared_over_socket(
            &k.fake,
            &format!("Socket {n} outage"),
            &format!("conns-{n}"),
        )
        .await;
    }
    assert_eq!(k.fake.most_open_sockets(), 2, "never more than asked for");
    k.stop().await;
}

/// Declares a SEV3 titled `title` in #general over Socket Mode and checks the answer says so.
async fn declared_over_socket(fake: &fake_slack::FakeSlack, title: &str, trigger: &str) {
    let reply = fake
        .socket_command(socket_command(
            "C0GENERAL",
            &format!("declare sev3 {title}"),
            trigger,
        ))
        .await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or("")
            .contains(" declared (SEV3)"),
        "{reply}"
    );
}
