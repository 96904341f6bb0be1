//! Messages marked 📌 on Slack join the timeline, over the Events API and Socket Mode, and
//! follow edits, removals and deletions.

use klaxon::store::Store;
use klaxon_tests::fake_slack;
use klaxon_tests::spawn::{Options, SlackHttp, SlackSocket, spawn};
use serde_json::Value;

use super::{captured, timeline_of};

#[tokio::test]
async fn pinned_messages_join_the_timeline_over_the_events_api() {
    let k = spawn(SlackHttp, Options::default()).await;
    // Slack checks the request URL first.
    let challenge = fake_slack::event(
        &k.url,
        &serde_json::json!({ "token": "x", "challenge": "c-3f9a", "type": "url_verification" }),
        None,
    )
    .await;
    assert_eq!(challenge.status().as_u16(), 200);
    let body: Value = challenge.json().await.expect("json");
    assert_eq!(body["challenge"], "c-3f9a");
    // Unsigned events are refused.
    let resp = reqwest::Client::new()
        .post(format!("{}/slack/events", k.url))
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 401);

    k.declare("declare sev2 Checkout errors").await;
    let ch = "C0000001";
    let (first, reply) = ("1763888460.000100", "1763888470.000200");
    k.fake.add_message(
        ch,
        first,
        "U0ALICE",
        "Deploy 1234 went out <!channel> & errors began",
        None,
    );
    k.fake
        .add_message(ch, reply, "U0BOB", "Rolling it back", Some(first));
    let send = |id: &str, event: Value, retry: Option<u32>| {
        let url = k.url.clone();
        let payload = fake_slack::event_callback(id, event);
        async move {
            let resp = fake_slack::event(&url, &payload, retry).await;
            assert_eq!(resp.status().as_u16(), 200, "{payload}");
        }
    };
    let pin =
        |kind: &str, user: &str, ts: &str| fake_slack::reaction(kind, user, "pushpin", ch, ts);
    send("Ev1", pin("reaction_added", "U0BOB", first), None).await;
    // Slack's retry of the same event, and a second person's pin: still one entry.
    send("Ev1", pin("reaction_added", "U0BOB", first), Some(1)).await;
    send("Ev2", pin("reaction_added", "U0CAROL", first), None).await;
    // Other reactions, and pins outside incident channels, are not captured.
    send(
        "Ev3",
        fake_slack::reaction("reaction_added", "U0BOB", "thumbsup", ch, first),
        None,
    )
    .await;
    send(
        "Ev4",
        fake_slack::reaction("reaction_added", "U0BOB", "pushpin", "C0GENERAL", first),
        None,
    )
    .await;
    // A reply in a thread is found with conversations.replies.
    send("Ev5", pin("reaction_added", "U0ONCALL", reply), None).await;
    let history = k.fake.calls_to("conversations.history");
    assert_eq!(history[0]["latest"], first);
    assert_eq!(history[0]["inclusive"], "true");
    assert_eq!(history[0]["limit"], "1");
    assert!(!k.fake.calls_to("conversations.replies").is_empty());

    // `/inc timeline` shows them at their own times, escaped.
    let tl = k.say("U0ONCALL", ch, "timeline").await;
    let text = tl["text"].as_str().unwrap_or("");
    assert!(
        text.contains("Deploy 1234 went out &lt;!channel&gt; &amp; errors began"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");

    // An edit is followed; taking every pin off removes the entry; pinning again restores it.
    let edited = serde_json::json!({
        "type": "message", "subtype": "message_changed", "hidden": true, "channel": ch,
        "message": { "type": "message", "user": "U0ALICE", "text": "Deploy 1234 went out; errors began",
            "ts": first, "edited": { "user": "U0ALICE", "ts": "1763888520.000000" } },
        "previous_message": { "type": "message", "user": "U0ALICE", "text": "Deploy 1234 went out", "ts": first },
        "event_ts": "1763888520.000300", "ts": "1763888520.000300",
    });
    send("Ev6", edited, None).await;
    send("Ev7", pin("reaction_removed", "U0BOB", first), None).await;
    let path = k.db.clone();
    let one_pin_left = captured(&timeline_of(&path).await);
    assert_eq!(one_pin_left.len(), 2, "{one_pin_left:?}");
    send("Ev8", pin("reaction_removed", "U0CAROL", first), None).await;
    assert_eq!(captured(&timeline_of(&path).await).len(), 1);
    send("Ev9", pin("reaction_added", "U0CAROL", first), None).await;
    let deleted = serde_json::json!({
        "type": "message", "subtype": "message_deleted", "hidden": true, "channel": ch,
        "deleted_ts": reply, "event_ts": "1763888580.000400", "ts": "1763888580.000400",
        "previous_message": { "type": "message", "user": "U0BOB", "text": "Rolling it back", "ts": reply },
    });
    send("Ev10", deleted, None).await;
    assert_eq!(
        captured(&timeline_of(&path).await),
        [
            (
                "2025-11-23 09:01:00 UTC".to_owned(),
                "U0ALICE".to_owned(),
                "Deploy 1234 went out; errors began".to_owned()
            ),
            (
                "2025-11-23 09:01:10 UTC".to_owned(),
                "U0BOB".to_owned(),
                "Rolling it back (message deleted at 09:03 UTC)".to_owned()
            ),
        ]
    );

    // The postmortem's timeline has them, linked.
    let pm = k.say("U0ONCALL", ch, "postmortem").await;
    assert!(
        !pm["text"]
            .as_str()
            .unwrap_or(":warning:")
            .starts_with(":warning:"),
        "{pm}"
    );
    let _dir = k.stop().await;
    let store = Store::open(&path).await.expect("store");
    let mut conn = store.read().await.expect("conn");
    let t = klaxon_commands::Tenant::new(klaxon_commands::PlatformKind::Slack, "T0TEAM");
    let incident = klaxon::store::incidents::by_number(&mut conn, &t, 1)
        .await
        .expect("q")
        .expect("INC-1");
    let draft = klaxon::store::postmortems::get(&mut conn, incident.id, None)
        .await
        .expect("q")
        .expect("a draft");
    assert!(
        draft.markdown.contains(
            "📌 Deploy 1234 went out; errors began ([message](<https://acme.slack.com/archives/C0000001/p1763888460000100>))"
        ),
        "{}",
        draft.markdown
    );
}

#[tokio::test]
async fn pins_over_socket_mode_are_captured_once() {
    let k = spawn(SlackSocket, Options::default()).await;
    assert!(k.fake.until(|_| k.fake.connected()).await);
    k.socket_declare("declare sev2 Search down", "s-1").await;
    k.fake.add_message(
        "C0000001",
        "1763888460.000100",
        "U0ALICE",
        "Index rebuild stuck at 40%",
        None,
    );
    let envelope = fake_slack::event_callback(
        "EvS1",
        fake_slack::reaction(
            "reaction_added",
            "U0BOB",
            "pushpin",
            "C0000001",
            "1763888460.000100",
        ),
    );
    // Socket Mode redelivers an envelope it has no acknowledgement for; the event id is the same.
    k.fake.socket_envelope("events_api", envelope.clone()).await;
    k.fake.socket_envelope("events_api", envelope).await;
    let path = k.db.clone();
    let _dir = k.stop().await;
    assert_eq!(
        captured(&timeline_of(&path).await),
        [(
            "2025-11-23 09:01:00 UTC".to_owned(),
            "U0ALICE".to_owned(),
            "Index rebuild stuck at 40%".to_owned()
        )]
    );
}

#[tokio::test]
async fn a_pinned_message_klaxon_cannot_read_is_still_captured() {
    let k = spawn(SlackHttp, Options::default()).await;
    k.declare("declare sev3 Mail delays").await;
    // The fake has no such message: conversations.history and .replies find nothing.
    let event = fake_slack::event_callback(
        "EvU1",
        fake_slack::reaction(
            "reaction_added",
            "U0BOB",
            "pushpin",
            "C0000001",
            "1763888490.000900",
        ),
    );
    let resp = fake_slack::event(&k.url, &event, None).await;
    assert_eq!(resp.status().as_u16(), 200);
    // An edit later fills in what it says.
    let edited = fake_slack::event_callback(
        "EvU2",
        serde_json::json!({
            "type": "message", "subtype": "message_changed", "hidden": true, "channel": "C0000001",
            "message": { "type": "message", "user": "U0ALICE", "text": "MX records changed at 08:55",
                "ts": "1763888490.000900", "edited": { "user": "U0ALICE", "ts": "1763888530.000000" } },
            "event_ts": "1763888530.000100", "ts": "1763888530.000100",
        }),
    );
    let path = k.db.clone();
    let before = captured(&timeline_of(&path).await);
    assert_eq!(
        before,
        [(
            "2025-11-23 09:01:30 UTC".to_owned(),
            "U0ALICE".to_owned(),
            "(a message Klaxon could not read: Slack no longer has it)".to_owned()
        )]
    );
    let resp = fake_slack::event(&k.url, &edited, None).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        captured(&timeline_of(&path).await)[0].2,
        "MX records changed at 08:55"
    );
    let _dir = k.stop().await;
}
