//! What Klaxon posts on Slack beyond the commands' answers: the postmortem draft as a file,
//! and a burst of changes as one announcement edit after the debounce window.

use klaxon::config::Config;
use klaxon::store::Store;
use klaxon_tests::spawn::{Options, SlackHttp, spawn};

#[tokio::test]
async fn the_postmortem_draft_is_shared_as_a_real_file() {
    let k = spawn(SlackHttp, Options::default()).await;
    k.say(
        "U0ONCALL",
        "C0GENERAL",
        "declare sev2 Checkout <errors> & timeouts",
    )
    .await;
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "pins.add"))
            .await
    );
    k.say("U0ONCALL", "C0000001", "resolve Rolled back").await;
    let reply = k.say("U0ONCALL", "C0000001", "postmortem").await;
    assert!(
        reply["text"]
            .as_str()
            .unwrap_or("")
            .contains("Postmortem draft v1 saved"),
        "{reply}"
    );
    assert!(
        k.fake
            .until(|c| c.iter().any(|c| c.method == "files.completeUploadExternal"))
            .await,
        "{:#?}",
        k.fake.calls()
    );
    let methods: Vec<String> = k
        .fake
        .calls()
        .into_iter()
        .map(|c| c.method)
        .filter(|m| m.starts_with("files.") || m == "upload")
        .collect();
    assert_eq!(
        methods,
        [
            "files.getUploadURLExternal",
            "upload",
            "files.completeUploadExternal"
        ]
    );
    let files = k.fake.shared_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert_eq!(file.channel, "C0000001");
    assert_eq!(file.filename, "INC-1-postmortem-v1.md");
    assert_eq!(file.title, "INC-1 postmortem draft v1");
    assert_eq!(file.content_type, "text/markdown");
    assert!(file.content.starts_with("# "), "{}", file.content);
    assert!(
        file.content.contains("Checkout <errors> & timeouts"),
        "{}",
        file.content
    );
    assert!(
        file.comment
            .starts_with("📝 Postmortem draft v1 of INC-1 by @oncall"),
        "{}",
        file.comment
    );
    // No code-block message any more.
    assert!(
        !k.fake
            .calls_to("chat.postMessage")
            .iter()
            .any(|p| p["text"].as_str().unwrap_or("").contains("```")),
    );
    k.stop().await;
}

#[tokio::test]
async fn a_burst_of_changes_is_one_announcement_edit_after_the_debounce_window() {
    use klaxon::clock::ManualClock;
    use klaxon_commands::{ChannelRef, Input, Invocation, PlatformKind, Tenant, UserRef};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(dir.path().join("k.db").to_str().expect("utf-8"))
        .await
        .expect("store");
    let clock = ManualClock::new(klaxon_tests::start_time());
    let recorder = Arc::new(klaxon_tests::recorder::Recorder::default());
    let mut apis: std::collections::BTreeMap<PlatformKind, Arc<dyn klaxon_commands::ChatApi>> =
        std::collections::BTreeMap::new();
    apis.insert(PlatformKind::Slack, recorder.clone());
    let config =
        Config::parse("checklist = []\n[slack]\nannouncement_debounce_ms = 2000").expect("config");
    let app =
        klaxon::app::App::new(store.clone(), config, Arc::new(clock.clone()), apis).expect("app");
    let tenant = Tenant::new(PlatformKind::Slack, "T0TEAM");
    let say = |channel: &str, text: &str| Invocation {
        tenant: tenant.clone(),
        channel: ChannelRef::new(channel, channel),
        user: UserRef::named("U0ALICE", "alice"),
        input: Input::Text(text.to_owned()),
        incident: None,
        delivery_id: None,
    };
    app.engine
        .handle(say("C0GENERAL", "declare sev2 Queue backlog"))
        .await;
    app.settle().await.expect("settle");
    let channel = "inc-2026-11-23-queue-backlog";
    assert_eq!(recorder.posts_in("incidents").len(), 1);
    // Three changes in the same second: the channel hears each at once, the paging channel
    // waits.
    for text in ["ack", "lead <@U0BOB>", "sev 1"] {
        let reply = app.engine.handle(say(channel, text)).await;
        assert_eq!(
            reply.kind,
            klaxon_commands::ReplyKind::Ok,
            "{}",
            reply.to_plain()
        );
    }
    app.settle().await.expect("settle");
    assert!(recorder.edits_in("incidents").is_empty());
    assert!(
        recorder
            .posts_in(channel)
            .iter()
            .any(|p| p.contains("Severity raised")),
        "{:?}",
        recorder.posts_in(channel)
    );
    app.advance(&clock, std::time::Duration::from_millis(1900))
        .await
        .expect("advance");
    assert!(recorder.edits_in("incidents").is_empty());
    app.advance(&clock, std::time::Duration::from_millis(100))
        .await
        .expect("advance");
    let edits = recorder.edits_in("incidents");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert!(
        edits[0].starts_with("🔴 SEV1 · INC-1 · Queue backlog"),
        "{edits:?}"
    );
    assert!(
        edits[0].contains("IC: @bob") || edits[0].contains("IC: @U0BOB"),
        "{edits:?}"
    );
    assert!(edits[0].contains("Acknowledged: @alice"), "{edits:?}");
    // A change after the window is its own edit, again after the window.
    clock.advance(std::time::Duration::from_secs(60));
    app.engine.handle(say(channel, "status contained")).await;
    app.settle().await.expect("settle");
    assert_eq!(recorder.edits_in("incidents").len(), 1);
    app.advance(&clock, std::time::Duration::from_secs(2))
        .await
        .expect("advance");
    let edits = recorder.edits_in("incidents");
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert!(edits[1].contains("Status: contained"), "{edits:?}");
    store.close().await;
}
