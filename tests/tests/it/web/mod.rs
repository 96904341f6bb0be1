//! The read-only pages over HTTP: every page, filter, access rule and the private-incident
//! redaction, on a scripted incident (the pages' router served on 127.0.0.1 over the test
//! bot's database and manual clock).

mod access;
mod alerts;
mod browser;
mod console;
mod figures;
mod pages;
mod signin;
mod workspaces;

use std::sync::Arc;

use klaxon::web::{Access, WebState};
use klaxon_tests::TestBot;
use klaxon_tests::target::Target;

/// The runbook secret; no page may ever show it.
pub const SECRET: &str = "rb-secret-value-7d2e";

/// The pages of `bot`'s database, served on 127.0.0.1 with `access`.
pub struct Site {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Site {
    pub async fn open(bot: &TestBot, access: Access) -> Self {
        let state = WebState::new(bot.store().clone(), Arc::new(bot.clock.clone()), access)
            .expect("templates compile");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let router = klaxon::web::router::<()>(Some(Arc::new(state)));
        // With the peer's address, as `klaxon run` serves it (for `[web] trusted_proxies`).
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        Self { url, task }
    }

    /// `GET path` with the headers given: (status, headers, body with `&#x2f;` read as `/`).
    pub async fn get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = reqwest::Client::new().get(format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("the pages answer");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        // MiniJinja writes `/` as `&#x2f;` (browsers read it as `/`): the tests read it back
        // so that links compare as written.
        let body = resp.text().await.expect("body").replace("&#x2f;", "/");
        (status, headers, body)
    }

    /// `GET path` as the console (open access): the body, asserting a 200.
    pub async fn page(&self, path: &str) -> String {
        let (status, _, body) = self.get_with(path, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// A runbook with one guarded action that sends a secret header to the target.
fn runbook(base: &str) -> String {
    format!(
        r#"
id = "payments"
title = "Payments failing"
severity = "sev2"
owners = {{ primary = "Payments on-call" }}
triggers = ["Card payments failing"]
triage = ["Check the provider status page"]

[actions.status]
title = "Provider status"
method = "GET"
url = "{base}/status"
headers = {{ Authorization = "Bearer {{{{ secret.PAY_TOKEN }}}}" }}
allowed_roles = ["ic"]
confirm = false
"#
    )
}

/// The scripted record: INC-1 (SEV1, resolved after 46 minutes, acknowledged after 3, with an
/// update, a hostile note, a follow-up overdue, a runbook run and a refused one, and two
/// postmortem drafts), INC-2 (private SEV2, open) and INC-3 (SEV3, open, declared a day later).
pub async fn scripted() -> (TestBot, Target) {
    let target = Target::start().await;
    let bot = TestBot::with_runbooks(
        "",
        &[("payments.toml", &runbook(&target.base))],
        &[("PAY_TOKEN", SECRET)],
        &target.allow(),
    )
    .await;
    bot.ok(
        "alice",
        "general",
        "/inc declare sev1 Payments API timing out",
    )
    .await;
    bot.settle().await;
    let ch = bot.channel_of(1).await;
    bot.advance("3m").await;
    bot.ok("alice", &ch, "/inc ack").await;
    bot.ok("alice", &ch, "/inc lead @bob").await;
    bot.ok(
        "bob",
        &ch,
        "/inc update Failed over to the secondary region",
    )
    .await;
    bot.ok(
        "bob",
        &ch,
        "/inc note <script>alert(\"x\")</script> & <b>bold</b>",
    )
    .await;
    bot.ok("bob", &ch, "/inc runbook start payments").await;
    bot.ok("bob", &ch, "/inc run status").await;
    bot.settle().await;
    bot.refused("carol", &ch, "/inc run status").await;
    bot.ok(
        "bob",
        &ch,
        "/inc followup add Alert on payment timeouts @dave due 2026-11-24",
    )
    .await;
    bot.advance("43m").await;
    bot.ok("bob", &ch, "/inc resolve Failover held").await;
    bot.ok("bob", &ch, "/inc postmortem").await;
    bot.ok("bob", &ch, "/inc rootcause Retry removed in deploy 1234")
        .await;
    bot.ok("bob", &ch, "/inc postmortem").await;
    bot.settle().await;
    bot.ok(
        "erin",
        "general",
        "/inc declare --private sev2 Secret acquisition leak",
    )
    .await;
    bot.settle().await;
    bot.advance("1d").await;
    bot.ok("frank", "general", "/inc declare sev3 Search is slow")
        .await;
    bot.settle().await;
    (bot, target)
}

/// Console access: every request is the console's user.
pub fn open() -> Access {
    Access {
        open: true,
        ..Access::default()
    }
}
