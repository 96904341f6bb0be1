//! Who may look: off unless configured, a trusted proxy header believed only from the
//! proxies' addresses, and private incidents.

use klaxon::config::Config;
use klaxon::web::Access;

use super::{Site, scripted};

/// `[web]` with a trusted header set by a proxy connecting from `proxies` (a TOML array).
fn behind(proxies: &str) -> Access {
    let config = Config::parse(&format!(
        "[web]\ntrusted_header = \"X-Forwarded-User\"\ntrusted_proxies = {proxies}\n"
    ))
    .expect("config");
    Access::configured(&config.web)
}

/// The tests' proxy: everything on this machine.
fn proxy() -> Access {
    behind(r#"["127.0.0.0/8"]"#)
}

#[tokio::test]
async fn without_a_viewer_every_page_asks_to_sign_in() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, proxy()).await;
    for path in [
        "/incidents",
        "/incidents/1",
        "/incidents/1/postmortem",
        "/incidents/1/postmortem.md",
        "/insights",
        "/insights/mtta.svg",
    ] {
        let (status, _, body) = site.get_with(path, &[]).await;
        assert_eq!(status, 401, "{path}");
        assert!(body.contains("/inc web"), "{path}: {body}");
        assert!(!body.contains("Payments"), "{path}: {body}");
        // A header the proxy did not configure counts for nothing; nor does an empty name.
        for header in [("x-remote-user", "mallory"), ("x-forwarded-user", " ")] {
            assert_eq!(
                site.get_with(path, &[header]).await.0,
                401,
                "{path} {header:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_trusted_header_names_the_viewer() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, proxy()).await;
    let as_carol = [("x-forwarded-user", "carol@example.com")];
    let (status, _, body) = site.get_with("/incidents", &as_carol).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Signed in as carol@example.com"), "{body}");
    let (status, _, _) = site.get_with("/incidents/1", &as_carol).await;
    assert_eq!(status, 200);
    // A name with markup is escaped like everything else.
    let (status, _, body) = site
        .get_with("/incidents", &[("x-forwarded-user", "<i>eve</i>")])
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("&lt;i&gt;eve&lt;/i&gt;"), "{body}");
}

#[tokio::test]
async fn a_private_incident_is_listed_redacted_and_its_pages_stay_closed() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, super::open()).await;
    for path in [
        "/incidents/2",
        "/incidents/2/postmortem",
        "/incidents/2/postmortem.md",
    ] {
        let (status, _, body) = site.get_with(path, &[]).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("/inc web in its channel"), "{path}: {body}");
        assert!(!body.contains("Secret acquisition"), "{path}: {body}");
    }
    for path in [
        "/incidents",
        "/incidents?status=open&severity=sev2",
        "/insights",
    ] {
        let body = site.page(path).await;
        assert!(!body.contains("Secret acquisition"), "{path}: {body}");
        assert!(!body.contains("secret-acquisition"), "{path}: {body}");
    }
}

#[tokio::test]
async fn the_trusted_header_is_believed_only_from_the_trusted_proxies() {
    let (bot, _target) = scripted().await;
    // The proxy is elsewhere: a client on 127.0.0.1 naming itself counts for nothing.
    let site = Site::open(&bot, behind(r#"["10.9.0.0/16", "fd00::1"]"#)).await;
    for path in [
        "/incidents",
        "/incidents/1",
        "/insights",
        "/insights/mtta.svg",
    ] {
        let (status, _, body) = site
            .get_with(path, &[("x-forwarded-user", "mallory")])
            .await;
        assert_eq!(status, 401, "{path}: {body}");
        assert!(
            !body.contains("mallory") && !body.contains("Payments"),
            "{body}"
        );
    }
    // One address is a /32 (or /128); IPv4 peers seen as IPv6-mapped count as IPv4.
    let Access {
        trusted: Some(trusted),
        ..
    } = behind(r#"["10.0.0.5", "10.1.0.0/16", "fd00::/8"]"#)
    else {
        panic!("a trusted header")
    };
    for (peer, believed) in [
        ("10.0.0.5", true),
        ("10.0.0.6", false),
        ("10.1.200.7", true),
        ("::ffff:10.0.0.5", true),
        ("fd12::3", true),
        ("127.0.0.1", false),
        ("::1", false),
    ] {
        let ip: std::net::IpAddr = peer.parse().expect("ip");
        assert_eq!(trusted.believes(Some(ip)), believed, "{peer}");
    }
    // A server that does not record the peer believes no header.
    assert!(!trusted.believes(None));
}

#[test]
fn a_trusted_header_without_its_proxies_is_refused_at_start_up() {
    let refused = |toml: &str| {
        format!(
            "{:#}",
            Config::parse(toml).expect_err(&format!("{toml} must be refused"))
        )
    };
    let e = refused("[web]\ntrusted_header = \"X-Forwarded-User\"\n");
    assert!(
        e.contains("web.trusted_header needs web.trusted_proxies"),
        "{e}"
    );
    let e = refused("[web]\ntrusted_header = \"X-Forwarded-User\"\ntrusted_proxies = []\n");
    assert!(
        e.contains("web.trusted_header needs web.trusted_proxies"),
        "{e}"
    );
    let e = refused("[web]\ntrusted_proxies = [\"10.0.0.5\"]\n");
    assert!(e.contains("without web.trusted_header"), "{e}");
    for bad in ["10.0.0.300", "10.0.0.0/33", "proxy.internal", ""] {
        let e = refused(&format!(
            "[web]\ntrusted_header = \"X-Forwarded-User\"\ntrusted_proxies = [{bad:?}]\n"
        ));
        assert!(
            e.contains("web.trusted_proxies takes addresses or networks"),
            "{bad}: {e}"
        );
    }
}

#[tokio::test]
async fn klaxon_run_believes_the_header_only_from_its_proxies() {
    use klaxon_tests::spawn::{SlackHttp, spawn};
    for (proxies, expected) in [(r#"["127.0.0.1"]"#, 200), (r#"["10.9.0.0/16"]"#, 401)] {
        let toml = format!(
            "[web]\nenabled = true\ntrusted_header = \"X-Forwarded-User\"\ntrusted_proxies = {proxies}\n"
        );
        let k = spawn(
            SlackHttp,
            klaxon_tests::spawn::Options::default().toml(&toml),
        )
        .await;
        let resp = reqwest::Client::new()
            .get(format!("{}/incidents", k.url))
            .header("x-forwarded-user", "carol@example.com")
            .send()
            .await
            .expect("answer");
        assert_eq!(resp.status().as_u16(), expected, "proxies {proxies}");
        let body = resp.text().await.expect("body");
        assert_eq!(
            body.contains("Signed in as carol@example.com"),
            expected == 200,
            "{body}"
        );
        k.stop().await;
    }
}

#[tokio::test]
async fn insights_name_a_private_incidents_overdue_follow_up_without_its_text_or_link() {
    let (bot, _target) = scripted().await;
    let private = bot.channel_of(2).await;
    bot.ok(
        "erin",
        &private,
        "/inc followup add Rotate the leaked keys @dave due 2026-11-24",
    )
    .await;
    bot.advance("7d").await;
    let as_carol = [("x-forwarded-user", "carol@example.com")];
    for (site, headers) in [
        (Site::open(&bot, super::open()).await, &[][..]),
        (Site::open(&bot, proxy()).await, &as_carol[..]),
    ] {
        let (status, _, body) = site.get_with("/insights", headers).await;
        assert_eq!(status, 200, "{body}");
        // Listed, as overdue, but neither linked nor described.
        assert!(
            body.contains("<td>INC-2</td><td>(private incident)</td>"),
            "{body}"
        );
        assert!(!body.contains("Rotate the leaked keys"), "{body}");
        assert!(!body.contains("href=\"/incidents/2"), "{body}");
        // The other incident's overdue follow-up is shown as usual.
        assert!(body.contains("1. Alert on payment timeouts"), "{body}");
    }
}
