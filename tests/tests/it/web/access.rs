//! Who may look: off unless configured, a trusted proxy header, and private incidents.

use klaxon::web::Access;

use super::{Site, scripted};

fn proxy() -> Access {
    Access {
        trusted_header: Some(axum::http::HeaderName::from_static("x-forwarded-user")),
        ..Access::default()
    }
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
