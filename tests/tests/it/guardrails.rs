//! The guardrails of runbook actions against hostile parameters, redeliveries, stops, secrets
//! and the allow-list, each against the local target API (issue 13, items 1–5).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use klaxon_commands::ReplyKind;
use klaxon_tests::TestBot;
use klaxon_tests::target::Target;

const SECRET: &str = "s3cr3t-t0ken-value";

/// Actions that call `base`: one with a secret header, one with a path parameter, one with a
/// JSON body.
fn runbook(base: &str) -> String {
    format!(
        r#"
id = "ops"
title = "Ops"
triage = ["Look"]

[actions.status]
title = "Status"
method = "GET"
url = "{base}/status"
headers = {{ Authorization = "Bearer {{{{ secret.PAY_TOKEN }}}}" }}
allowed_roles = ["ic"]
confirm = false

[actions.item]
title = "Delete one item"
method = "DELETE"
url = "{base}/items/{{{{ id }}}}"
allowed_roles = ["ic"]
confirm = false
[actions.item.params.id]
kind = "text"

[actions.note]
title = "Leave a note"
method = "POST"
url = "{base}/notes"
body = '{{"reason": {{{{ reason }}}}, "admin": false}}'
headers = {{ Content-Type = "application/json" }}
allowed_roles = ["ic"]
confirm = false
[actions.note.params.reason]
kind = "text"
"#
    )
}

/// A bot with the runbook calling `base`, allowing `allowed`, an incident declared by alice
/// (IC); returns the bot and the incident channel.
async fn bot_with(
    base: &str,
    allowed: &str,
    resolver: Option<Arc<dyn klaxon::runbooks::allow::Resolve>>,
) -> (TestBot, String) {
    let files = [("ops.toml", runbook(base))];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let secrets = [("PAY_TOKEN", SECRET)];
    let bot = match resolver {
        Some(r) => {
            TestBot::with_runbooks_resolving("checklist = []", &files, &secrets, allowed, r).await
        }
        None => TestBot::with_runbooks("checklist = []", &files, &secrets, allowed).await,
    };
    bot.ok("alice", "general", "/inc declare sev1 Payments down")
        .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.ok("alice", &ch, "/inc lead @alice").await;
    (bot, ch)
}

async fn setup() -> (TestBot, Target, String) {
    let target = Target::start().await;
    let (bot, ch) = bot_with(&target.base, &target.allow(), None).await;
    (bot, target, ch)
}

async fn runs(bot: &TestBot) -> Vec<(String, String, String, Option<String>)> {
    let mut conn = bot.store().read().await.expect("conn");
    klaxon::store::runbooks::runs(&mut conn, 1)
        .await
        .expect("runs")
}

/// Waits for actions in flight; the last post reporting `action`'s outcome.
async fn outcome(bot: &TestBot, ch: &str, action: &str) -> String {
    bot.settle().await;
    bot.api
        .posts_in(ch)
        .into_iter()
        .rev()
        .find(|p| p.contains(&format!(" ran {action}")))
        .unwrap_or_else(|| panic!("no outcome of {action} in {:#?}", bot.api.posts_in(ch)))
}

fn sending(action: &str) -> String {
    format!("Sending {action} now; its outcome will be posted in this channel.")
}

#[tokio::test]
async fn a_redelivered_action_is_sent_once_and_answered_from_the_claim() {
    let (bot, target, ch) = setup().await;
    target.hold("/status");
    let t = bot.tenant.clone();
    let first = bot
        .invoke(&t, "alice", &ch, "/inc run status", Some("env-1"))
        .await;
    // Answered before the target answers: the request is still held there.
    assert_eq!(first.kind, ReplyKind::Ok, "{}", first.to_plain());
    assert_eq!(first.to_plain(), sending("status"));
    assert!(target.until(|r| r.len() == 1).await, "the request went out");
    // Slack's retry (same delivery id) while the first is in flight: the same answer, no send.
    for _ in 0..2 {
        let again = bot
            .invoke(&t, "alice", &ch, "/inc run status", Some("env-1"))
            .await;
        assert_eq!(again.kind, ReplyKind::Ok, "{}", again.to_plain());
        assert_eq!(again.to_plain(), first.to_plain());
    }
    target.release("/status");
    let done = outcome(&bot, &ch, "status").await;
    assert!(
        done.starts_with("⚡ @alice ran status: answered 200 in "),
        "{done}"
    );
    assert_eq!(target.received().len(), 1, "sent once");
    let runs = runs(&bot).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].2, "done");
    let mut conn = bot.store().read().await.expect("conn");
    let deliveries = klaxon::store::count_rows(&mut conn, "deliveries")
        .await
        .expect("count");
    assert_eq!(deliveries, 1, "one delivery, recorded with the claim");
}

#[tokio::test]
async fn a_run_cut_off_by_a_stop_ends_unknown_and_is_not_sent_again() {
    let (bot, target, ch) = setup().await;
    target.hold("/status");
    assert_eq!(
        bot.ok("alice", &ch, "/inc run status").await,
        sending("status")
    );
    assert!(target.until(|r| r.len() == 1).await, "the request went out");
    // The process stops while the target has not answered; the next one starts.
    let bot = bot.restart().await;
    target.release("/status");
    bot.settle().await;
    let recorded = runs(&bot).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].2, "unknown", "{recorded:?}");
    let posts = bot.api.posts_in(&ch);
    assert!(
        posts.iter().any(|p| p
            == "⚠️ Klaxon stopped while sending status (run by @alice): it may or may not have reached its target, and it was not sent again. Check the target before running it again."),
        "{posts:#?}"
    );
    let mut conn = bot.store().read().await.expect("conn");
    let audit: Vec<String> = klaxon::store::timeline::all(&mut conn, 1)
        .await
        .expect("timeline")
        .into_iter()
        .filter(|e| e.kind.word() == "action")
        .map(|e| e.text)
        .collect();
    assert_eq!(
        audit,
        ["Outcome unknown for status: Klaxon stopped while sending it; not sent again"]
    );
    // A connection still held would keep the restart's close waiting for it.
    drop(conn);
    // Another start-up finds nothing to recover, and nothing was sent again.
    let bot = bot.restart().await;
    bot.settle().await;
    assert_eq!(target.received().len(), 1);
    assert_eq!(runs(&bot).await[0].2, "unknown");
}

#[tokio::test]
async fn path_parameters_cannot_climb_out_of_their_segment() {
    let (bot, target, ch) = setup().await;
    bot.ok("alice", &ch, "/inc run item id=../../admin/wipe")
        .await;
    outcome(&bot, &ch, "item").await;
    let paths: Vec<String> = target.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/items/%2E%2E%2F%2E%2E%2Fadmin%2Fwipe"]);
    // A whole segment of dots would be resolved by the URL parser: refused, nothing sent.
    for id in ["..", "."] {
        let refused = bot
            .refused("alice", &ch, &format!("/inc run item id={id}"))
            .await;
        assert!(
            refused.contains("path segment, so nothing was sent."),
            "{id}: {refused}"
        );
    }
    assert_eq!(target.received().len(), 1);
    // Percent signs are encoded too, so an encoded dot-segment stays a literal value.
    bot.ok("alice", &ch, "/inc run item id=%2e%2e").await;
    bot.settle().await;
    let paths: Vec<String> = target.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[1], "/items/%252e%252e");
}

#[tokio::test]
async fn json_bodies_escape_the_values_rendered_into_them() {
    let (bot, target, ch) = setup().await;
    // The injection from the drill: close the string, add a key, reopen.
    let injected = r#"x", "admin": true, "y": ""#;
    let quoted = injected.replace('\\', "\\\\").replace('"', "\\\"");
    bot.ok("alice", &ch, &format!("/inc run note reason=\"{quoted}\""))
        .await;
    outcome(&bot, &ch, "note").await;
    let received = target.received();
    assert_eq!(received.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&received[0].body).expect("JSON");
    assert_eq!(body["admin"], serde_json::Value::Bool(false), "{body}");
    assert_eq!(body["reason"], injected, "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
}

#[tokio::test]
async fn secret_headers_are_refused_over_plain_http_unless_the_entry_allows_it() {
    let target = Target::start().await;
    let allowed = format!(
        "[{{ host = \"127.0.0.1:{}\", private = true }}]",
        target.port
    );
    let (bot, ch) = bot_with(&target.base, &allowed, None).await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc run status").await,
        format!(
            "Not run: the action sends a secret, and http://127.0.0.1:{} is not encrypted, so nothing was sent (https, or secrets_over_http = true on its allowed_hosts entry).",
            target.port
        )
    );
    // Without a secret, plain http to the allowed host is fine.
    bot.ok("alice", &ch, "/inc run item id=7").await;
    bot.settle().await;
    let paths: Vec<String> = target.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/items/7"]);
}

#[tokio::test]
async fn allow_list_entries_name_the_port() {
    let target = Target::start().await;
    let other = target.port.wrapping_add(1).max(1);
    let allowed =
        format!("[{{ host = \"127.0.0.1:{other}\", private = true, secrets_over_http = true }}]");
    let (bot, ch) = bot_with(&target.base, &allowed, None).await;
    assert_eq!(
        bot.refused("alice", &ch, "/inc run item id=7").await,
        format!(
            "Not run: 127.0.0.1:{} is not on the allow-list ([runbooks] allowed_hosts), so nothing was sent.",
            target.port
        )
    );
    assert!(target.received().is_empty());
}

/// Answers from a table, counting lookups; `then` (if set) is answered after the first lookup,
/// as a rebinding DNS server would.
struct Table {
    answers: HashMap<String, Vec<SocketAddr>>,
    then: Option<Vec<SocketAddr>>,
    lookups: AtomicUsize,
}

#[async_trait::async_trait]
impl klaxon::runbooks::allow::Resolve for Table {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let n = self.lookups.fetch_add(1, Ordering::SeqCst);
        let found = match (&self.then, n) {
            (Some(then), 1..) => then.clone(),
            _ => self.answers.get(host).cloned().unwrap_or_default(),
        };
        Ok(found
            .into_iter()
            .map(|a| SocketAddr::new(a.ip(), port))
            .collect())
    }
}

fn table(host: &str, addr: &str, then: Option<&str>) -> Arc<Table> {
    let a = |s: &str| -> SocketAddr { format!("{s}:0").parse().expect("address") };
    Arc::new(Table {
        answers: HashMap::from([(host.to_owned(), vec![a(addr)])]),
        then: then.map(|t| vec![a(t)]),
        lookups: AtomicUsize::new(0),
    })
}

#[tokio::test]
async fn a_name_resolving_to_an_internal_or_metadata_address_is_not_connected_to() {
    let target = Target::start().await;
    let base = format!("http://payments.test:{}", target.port);
    for (addr, allowed, why) in [
        (
            "127.0.0.1",
            format!("[\"payments.test:{}\"]", target.port),
            format!(
                "payments.test resolves to 127.0.0.1, a loopback address (allow it with {{ host = \"payments.test:{}\", private = true }})",
                target.port
            ),
        ),
        (
            "169.254.169.254",
            format!(
                "[{{ host = \"payments.test:{}\", private = true }}]",
                target.port
            ),
            "payments.test resolves to 169.254.169.254, the cloud metadata address".to_owned(),
        ),
    ] {
        let resolver = table("payments.test", addr, None);
        let (bot, ch) = bot_with(&base, &allowed, Some(resolver)).await;
        bot.ok("alice", &ch, "/inc run item id=7").await;
        assert_eq!(
            outcome(&bot, &ch, "item").await,
            format!("⚠️ @alice ran item id=7: was not sent: {why}.")
        );
    }
    assert!(target.received().is_empty());
}

#[tokio::test]
async fn the_connection_uses_the_address_that_was_checked() {
    let target = Target::start().await;
    let base = format!("http://payments.test:{}", target.port);
    // The first answer is checked; a second lookup would get a black-hole address.
    let resolver = table("payments.test", "127.0.0.1", Some("10.255.255.1"));
    let allowed = format!(
        "[{{ host = \"payments.test:{}\", private = true, secrets_over_http = true }}]",
        target.port
    );
    let (bot, ch) = bot_with(&base, &allowed, Some(resolver.clone())).await;
    bot.ok("alice", &ch, "/inc run status").await;
    let done = outcome(&bot, &ch, "status").await;
    assert!(
        done.starts_with("⚡ @alice ran status: answered 200"),
        "{done}"
    );
    assert_eq!(resolver.lookups.load(Ordering::SeqCst), 1, "looked up once");
    let received = target.received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0]
            .headers
            .contains(&("authorization".to_owned(), format!("Bearer {SECRET}")))
    );
}
