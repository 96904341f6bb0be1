//! Signing in from chat: `/inc web` answers the asker a single-use link that expires; using it
//! sets an HttpOnly, SameSite=Strict session cookie (Secure behind https) for the configured
//! lifetime; links and sessions are stored hashed; a private incident opens only for a link
//! asked inside its channel.

use klaxon::config::Config;
use klaxon::web::Access;
use klaxon_commands::{PlatformKind, Tenant};
use klaxon_tests::TestBot;

use super::Site;

const CONFIG: &str = "checklist = []\n[web]\nenabled = true\npublic_url = \"http://pages.example\"\nlink_lifetime = \"10m\"\nsession_lifetime = \"8h\"\n";

async fn klaxon(config: &str) -> (TestBot, Site) {
    let config = Config::parse(config).expect("config");
    let bot = TestBot::on_platform(config.clone(), Tenant::new(PlatformKind::Slack, "T1")).await;
    let site = Site::open(&bot, Access::configured(&config.web)).await;
    (bot, site)
}

/// The token of the link in a `/inc web` reply.
fn token_in(reply: &str) -> String {
    reply
        .split("http://pages.example/signin?token=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link in {reply}"))
        .to_owned()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Uses a link: (status, the Set-Cookie header, the session cookie to send back).
async fn sign_in(site: &Site, token: &str, cookie: Option<&str>) -> (u16, String, String) {
    let mut req = client()
        .post(format!("{}/signin", site.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.expect("answer");
    let status = resp.status().as_u16();
    let set = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    let pair = set.split(';').next().unwrap_or_default().to_owned();
    (status, set, pair)
}

#[tokio::test]
async fn a_link_from_chat_signs_in_once_and_sets_a_strict_cookie() {
    let (bot, site) = klaxon(CONFIG).await;
    bot.ok("alice", "general", "/inc declare sev2 Checkout errors")
        .await;
    bot.settle().await;
    let reply = bot.ok("alice", "general", "/inc web").await;
    assert!(reply.contains("for you only"), "{reply}");
    assert!(
        reply.contains("within 10m") && reply.contains("for 8h"),
        "{reply}"
    );
    let token = token_in(&reply);
    assert_eq!(token.len(), 64);
    // The GET shows a button and uses nothing up (a link preview cannot spend it).
    for _ in 0..2 {
        let (status, _, body) = site.get_with(&format!("/signin?token={token}"), &[]).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains("method=\"post\"") && body.contains(&token),
            "{body}"
        );
    }
    let (status, set, cookie) = sign_in(&site, &token, None).await;
    assert_eq!(status, 303);
    for part in [
        "klaxon_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=28800",
    ] {
        assert!(set.contains(part), "{part} missing from {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let (status, _, body) = site.get_with("/incidents", &[("cookie", &cookie)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Signed in as @alice"), "{body}");
    assert!(body.contains("Checkout errors"), "{body}");
    // Once only.
    let (status, _, _) = sign_in(&site, &token, None).await;
    assert_eq!(status, 400);
    assert_eq!(
        site.get_with(&format!("/signin?token={token}"), &[])
            .await
            .0,
        400
    );
    // A forged or unknown cookie is nobody.
    let forged = format!("klaxon_session={}", "0".repeat(64));
    assert_eq!(
        site.get_with("/incidents", &[("cookie", &forged)]).await.0,
        401
    );
    // Only hashes are stored: no byte of the database (its file and its write-ahead log)
    // holds the link's or the session's token.
    let session = cookie.trim_start_matches("klaxon_session=");
    assert_eq!(session.len(), 64, "{cookie}");
    let mut files = 0;
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", bot.db);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        files += 1;
        for secret in [token.as_bytes(), session.as_bytes()] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{path} holds a token"
            );
        }
    }
    if klaxon_tests::database::on_postgres() {
        // No file to read: every row of the tables that hold sign-ins, as PostgreSQL prints it.
        let mut conn = bot.store().read().await.expect("conn");
        for table in ["web_links", "web_sessions"] {
            let rows: Vec<String> =
                sqlx::query_scalar(&format!("SELECT CAST(t AS TEXT) FROM {table} t"))
                    .fetch_all(&mut *conn)
                    .await
                    .expect("rows");
            assert!(!rows.is_empty(), "{table} has rows");
            files += 1;
            for row in rows {
                for secret in [token.as_str(), session] {
                    assert!(!row.contains(secret), "{table} holds a token: {row}");
                }
            }
        }
    }
    assert!(files > 0, "the database was read");
    let mut conn = bot.store().read().await.expect("conn");
    let hashed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM web_sessions WHERE token_hash = $1")
        .bind(klaxon::store::web::hash(session))
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    assert_eq!(hashed, 1);
}

#[tokio::test]
async fn links_expire_and_sessions_end_after_their_lifetime() {
    let (bot, site) = klaxon(CONFIG).await;
    let late = token_in(&bot.ok("alice", "general", "/inc web").await);
    let token = token_in(&bot.ok("alice", "general", "/inc web").await);
    let (_, _, cookie) = sign_in(&site, &token, None).await;
    bot.advance("11m").await;
    assert_eq!(
        sign_in(&site, &late, None).await.0,
        400,
        "expired after 10m"
    );
    assert_eq!(
        site.get_with("/incidents", &[("cookie", &cookie)]).await.0,
        200
    );
    bot.advance("8h").await;
    assert_eq!(
        site.get_with("/incidents", &[("cookie", &cookie)]).await.0,
        401,
        "the session ended after 8h"
    );
}

#[tokio::test]
async fn a_private_incident_opens_only_for_a_link_asked_in_its_channel() {
    let (bot, site) = klaxon(CONFIG).await;
    bot.ok(
        "erin",
        "general",
        "/inc declare --private sev1 Vendor breach",
    )
    .await;
    bot.settle().await;
    let private = bot.channel_of(1).await;
    let (_, _, cookie) = sign_in(
        &site,
        &token_in(&bot.ok("erin", "general", "/inc web").await),
        None,
    )
    .await;
    let (status, _, body) = site.get_with("/incidents/1", &[("cookie", &cookie)]).await;
    assert_eq!(status, 403, "{body}");
    let list = site.get_with("/incidents", &[("cookie", &cookie)]).await.2;
    assert!(!list.contains("Vendor breach"), "{list}");
    // Asked in the incident's channel, the link says so and its session opens the incident,
    // keeping what the session before it could open.
    let reply = bot.ok("erin", &private, "/inc web").await;
    assert!(
        reply.contains("It also opens INC-1, which is private."),
        "{reply}"
    );
    let (status, _, inside) = sign_in(&site, &token_in(&reply), Some(&cookie)).await;
    assert_eq!(status, 303);
    let (status, _, body) = site.get_with("/incidents/1", &[("cookie", &inside)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Vendor breach"), "{body}");
    assert_eq!(
        site.get_with("/incidents", &[("cookie", &cookie)]).await.0,
        401,
        "the old session ended"
    );
    // Someone else's link from the general channel still sees it redacted.
    let (_, _, other) = sign_in(
        &site,
        &token_in(&bot.ok("frank", "general", "/inc web").await),
        None,
    )
    .await;
    assert_eq!(
        site.get_with("/incidents/1", &[("cookie", &other)]).await.0,
        403
    );
}

#[tokio::test]
async fn a_session_sees_its_own_workspace_only_and_https_makes_the_cookie_secure() {
    let (bot, site) =
        klaxon(&CONFIG.replace("http://pages.example", "https://pages.example")).await;
    bot.ok("alice", "general", "/inc declare sev2 Ours").await;
    let other = Tenant::new(PlatformKind::Slack, "T2");
    bot.invoke(&other, "zed", "general", "/inc declare sev2 Theirs", None)
        .await;
    bot.settle().await;
    let reply = bot.ok("alice", "general", "/inc web").await;
    let token = reply
        .split("https://pages.example/signin?token=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("link")
        .to_owned();
    let (_, set, cookie) = sign_in(&site, &token, None).await;
    assert!(set.contains("Secure"), "{set}");
    let list = site.get_with("/incidents", &[("cookie", &cookie)]).await.2;
    assert!(list.contains("Ours") && !list.contains("Theirs"), "{list}");
}

#[tokio::test]
async fn without_pages_configured_the_command_says_what_to_set() {
    let (bot, _site) = klaxon("checklist = []\n").await;
    assert_eq!(
        bot.refused("alice", "general", "/inc web").await,
        "The pages are off here: an operator turns them on with `[web] enabled = true` in klaxon.toml."
    );
    let (bot, _site) = klaxon("checklist = []\n[web]\nenabled = true\n").await;
    assert!(
        bot.refused("alice", "general", "/inc web")
            .await
            .contains("`[web] public_url`")
    );
    let console = TestBot::start().await;
    assert!(
        console
            .ok("alice", "general", "/inc web")
            .await
            .contains("open to this machine")
    );
    // With sign-in off (the console's open access), there is no sign-in page.
    let site = Site::open(&console, super::open()).await;
    assert_eq!(site.get_with("/signin?token=x", &[]).await.0, 404);
}
