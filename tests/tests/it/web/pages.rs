//! Each page's content on the scripted incident, the list's filters, the postmortem's versions
//! and download, the charts, and the headers every page carries.

use super::{SECRET, Site, open, scripted};

#[tokio::test]
async fn the_list_shows_open_incidents_first_then_recent_ones() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, open()).await;
    let body = site.page("/incidents").await;
    let (inc1, inc2, inc3) = (
        body.find(">INC-1<").expect("INC-1 listed"),
        body.find(">INC-2<").expect("INC-2 listed"),
        body.find(">INC-3<").expect("INC-3 listed"),
    );
    // Open first (worst first: the private SEV2, then the SEV3), then the resolved one.
    assert!(inc2 < inc3 && inc3 < inc1, "{body}");
    assert!(body.contains("Payments API timing out"), "{body}");
    assert!(body.contains("href=\"/incidents/1\""), "{body}");
    assert!(body.contains("@bob"), "IC shown: {body}");
    assert!(body.contains("2026-11-23 09:00:00 UTC"), "{body}");
    assert!(body.contains("datetime=\"2026-11-23T09:00:00Z\""), "{body}");
    // Time to acknowledge 3m, to resolve 46m.
    assert!(body.contains("<td>3m</td>"), "{body}");
    assert!(body.contains("<td>46m</td>"), "{body}");
    // The private incident is listed without its title or channel, and not linked.
    assert!(!body.contains("Secret acquisition"), "{body}");
    assert!(!body.contains("secret-acquisition"), "{body}");
    assert!(!body.contains("href=\"/incidents/2\""), "{body}");
    assert!(body.contains("private incident"), "{body}");
}

#[tokio::test]
async fn the_list_filters_by_status_severity_and_date() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, open()).await;
    let listed = |body: &str| -> Vec<u32> {
        (1..=3)
            .filter(|n| body.contains(&format!(">INC-{n}<")))
            .collect()
    };
    assert_eq!(listed(&site.page("/incidents?status=open").await), [2, 3]);
    assert_eq!(listed(&site.page("/incidents?status=resolved").await), [1]);
    assert_eq!(listed(&site.page("/incidents?status=triage").await), [2, 3]);
    assert_eq!(listed(&site.page("/incidents?severity=sev1").await), [1]);
    assert_eq!(listed(&site.page("/incidents?severity=SEV-3").await), [3]);
    assert_eq!(
        listed(&site.page("/incidents?from=2026-11-24").await),
        [3],
        "declared on or after the 24th"
    );
    assert_eq!(
        listed(&site.page("/incidents?to=2026-11-23").await),
        [1, 2],
        "declared on or before the 23rd"
    );
    assert_eq!(
        listed(
            &site
                .page("/incidents?status=open&severity=sev2&from=2026-11-23&to=2026-11-23")
                .await
        ),
        [2]
    );
    assert!(
        site.page("/incidents?severity=sev4")
            .await
            .contains("No incident matches.")
    );
    for (bad, says) in [
        ("/incidents?status=melting", "status must be"),
        ("/incidents?severity=sev9", "severity must be"),
        ("/incidents?from=23-11-2026", "from must be a date"),
        (
            "/incidents?from=2026-11-25&to=2026-11-24",
            "from must not be after to",
        ),
    ] {
        let (status, _, body) = site.get_with(bad, &[]).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body.contains(says), "{bad}: {body}");
    }
}

#[tokio::test]
async fn the_incident_page_shows_the_whole_record_escaped() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, open()).await;
    let body = site.page("/incidents/1").await;
    for expected in [
        "INC-1 · Payments API timing out",
        "resolved",
        "ic: @bob",
        "by @alice (3m after declare)",
        "(46m after declare): Failover held",
        // The checklist, the timeline with kinds, follow-ups with owner and due date.
        "Acknowledge the page",
        "<td>declared</td>",
        "<td>acknowledged</td>",
        "Failed over to the secondary region",
        "Alert on payment timeouts",
        "<td>@dave</td>",
        "<td>2026-11-24</td>",
        // The runbook, its run and the refusal in the guardrail log.
        "payments",
        "<td>status</td>",
        "<td>done</td>",
        "Refused",
        "Not declared from an alert.",
        "href=\"/incidents/1/postmortem\"",
    ] {
        assert!(body.contains(expected), "{expected:?} missing from {body}");
    }
    // User text is escaped, never markup.
    assert!(!body.contains("<script>alert"), "{body}");
    assert!(
        body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;"),
        "{body}"
    );
    assert!(!body.contains(SECRET), "the runbook secret never shows");
    assert!(!body.contains("Bearer"), "nor its header");
    // INC-7 does not exist; a number that is not one is not found either.
    for missing in ["/incidents/7", "/incidents/x", "/incidents/0"] {
        assert_eq!(site.get_with(missing, &[]).await.0, 404, "{missing}");
    }
    assert_eq!(site.page("/incidents/INC-1").await, body);
}

#[tokio::test]
async fn the_postmortem_page_renders_the_latest_draft_lists_versions_and_downloads() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, open()).await;
    let (status, headers, body) = site.get_with("/incidents/1/postmortem", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Draft v2 by @bob"), "{body}");
    assert!(
        body.contains("Retry removed in deploy 1234"),
        "latest: {body}"
    );
    assert!(body.contains("<pre class=\"mermaid\">"), "{body}");
    assert!(body.contains("<table>"), "Markdown tables render: {body}");
    assert!(
        body.contains("href=\"/incidents/1/postmortem?version=1\""),
        "{body}"
    );
    assert!(body.contains("/static/mermaid-11.17.2.min.js"), "{body}");
    assert!(
        !body.contains("<script>alert"),
        "raw HTML in the draft is text: {body}"
    );
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    let v1 = site.page("/incidents/1/postmortem?version=1").await;
    assert!(v1.contains("Draft v1"), "{v1}");
    assert!(!v1.contains("Retry removed in deploy 1234"), "{v1}");
    assert!(
        v1.contains("href=\"/incidents/1/postmortem?version=2\""),
        "{v1}"
    );
    let (status, headers, md) = site.get_with("/incidents/1/postmortem.md", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"INC-1-postmortem-v2.md\""
    );
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/markdown")
    );
    assert!(md.starts_with('#') && md.contains("```mermaid"), "{md}");
    let (_, headers, _) = site
        .get_with("/incidents/1/postmortem.md?version=1", &[])
        .await;
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"INC-1-postmortem-v1.md\""
    );
    assert_eq!(
        site.get_with("/incidents/1/postmortem?version=9", &[])
            .await
            .0,
        404
    );
    assert_eq!(
        site.get_with("/incidents/1/postmortem?version=x", &[])
            .await
            .0,
        400
    );
    let none = site.page("/incidents/3/postmortem").await;
    assert!(none.contains("No postmortem draft yet"), "{none}");
    assert_eq!(
        site.get_with("/incidents/3/postmortem.md", &[]).await.0,
        404
    );
}

#[tokio::test]
async fn insights_show_figures_charts_and_what_is_overdue() {
    let (bot, _target) = scripted().await;
    // A week on: the follow-up (due the 24th) and the postmortem (five business days after
    // resolve) are overdue.
    bot.advance("7d").await;
    let site = Site::open(&bot, open()).await;
    let body = site.page("/insights").await;
    assert!(
        body.contains("src=\"/insights/mtta.svg?weeks=12\""),
        "{body}"
    );
    assert!(
        body.contains("src=\"/insights/mttr.svg?weeks=12\""),
        "{body}"
    );
    // SEV1: one incident, acknowledged after 3m, resolved after 46m.
    assert!(
        body.contains("SEV1</span></td><td>1</td><td>3m</td><td>46m</td>"),
        "{body}"
    );
    assert!(
        body.contains("SEV3</span></td><td>1</td><td>—</td><td>—</td>"),
        "{body}"
    );
    assert!(body.contains("1. Alert on payment timeouts"), "{body}");
    assert!(body.contains("<td>2026-11-24</td>"), "{body}");
    assert!(body.contains("href=\"/incidents/1/postmortem\""), "{body}");
    for chart in ["/insights/mtta.svg", "/insights/mttr.svg?weeks=4"] {
        let (status, headers, svg) = site.get_with(chart, &[]).await;
        assert_eq!(status, 200, "{chart}");
        assert_eq!(headers["content-type"], "image/svg+xml; charset=utf-8");
        assert!(svg.contains("<svg") && svg.contains("SEV1"), "{svg}");
        assert!(svg.contains("minutes"), "{svg}");
    }
    assert_eq!(site.get_with("/insights/other.svg", &[]).await.0, 404);
    assert_eq!(site.get_with("/insights?weeks=0", &[]).await.0, 400);
    assert_eq!(site.get_with("/insights?weeks=105", &[]).await.0, 400);
}

#[tokio::test]
async fn every_page_carries_a_strict_policy_and_the_static_files_are_served() {
    let (bot, _target) = scripted().await;
    let site = Site::open(&bot, open()).await;
    for path in ["/incidents", "/incidents/1", "/insights", "/incidents/7"] {
        let (_, headers, _) = site.get_with(path, &[]).await;
        let csp = headers["content-security-policy"].to_str().expect("ascii");
        assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("style-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-store");
    }
    for (file, kind) in [
        ("style.css", "text/css; charset=utf-8"),
        ("local-time.js", "text/javascript; charset=utf-8"),
        ("diagram.js", "text/javascript; charset=utf-8"),
        ("mermaid-11.17.2.min.js", "text/javascript; charset=utf-8"),
    ] {
        let (status, headers, _) = site.get_with(&format!("/static/{file}"), &[]).await;
        assert_eq!(status, 200, "{file}");
        assert_eq!(headers["content-type"], kind, "{file}");
    }
    assert_eq!(site.get_with("/static/../klaxon.db", &[]).await.0, 404);
    assert_eq!(site.get_with("/static/other.js", &[]).await.0, 404);
}

#[tokio::test]
async fn no_page_shows_a_secret_a_token_or_a_runbook_header() {
    let (bot, target) = scripted().await;
    bot.advance("7d").await;
    let site = Site::open(&bot, open()).await;
    for path in [
        "/incidents",
        "/incidents?status=resolved",
        "/incidents/1",
        "/incidents/1/postmortem",
        "/incidents/1/postmortem?version=1",
        "/incidents/1/postmortem.md",
        "/incidents/3",
        "/insights",
        "/insights/mtta.svg",
        "/insights/mttr.svg",
    ] {
        let body = site.page(path).await;
        // The runbook action sent `Authorization: Bearer <secret>`: neither the value, nor
        // the header, nor the secret's name shows.
        for hidden in [SECRET, "Bearer", "Authorization", "PAY_TOKEN", "secret."] {
            assert!(!body.contains(hidden), "{path} shows {hidden:?}: {body}");
        }
    }
    // The runbook action did run with the secret: the target saw it.
    assert!(
        target
            .received()
            .iter()
            .any(|r| r.headers.iter().any(|(_, v)| v.contains(SECRET)))
    );
}
