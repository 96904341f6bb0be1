//! Incident numbers repeat across workspaces (each counts from 1): a viewer who sees several
//! workspaces (the console, a trusted proxy's user) gets the workspace named on every row and
//! in every link of the list and of the insights, and an ambiguous number alone is refused.

use klaxon_commands::{PlatformKind, Tenant};
use klaxon_tests::TestBot;

use super::{Site, open};

#[tokio::test]
async fn rows_and_links_name_the_workspace_when_numbers_repeat() {
    let bot = TestBot::start().await;
    let other = Tenant::new(PlatformKind::Console, "other");
    let ours = bot.tenant.clone();
    for (tenant, title) in [(&ours, "Ours is down"), (&other, "Theirs is down")] {
        let declare = format!("/inc declare sev2 {title}");
        bot.invoke(tenant, "alice", "general", &declare, None).await;
        bot.settle().await;
        let mut conn = bot.store().read().await.expect("conn");
        let channel = klaxon::store::incidents::by_number(&mut conn, tenant, 1)
            .await
            .expect("query")
            .expect("INC-1")
            .channel_id
            .expect("channel");
        drop(conn);
        for text in [
            "/inc followup add Fix it due 2026-11-24",
            "/inc resolve Fixed",
        ] {
            let reply = bot.invoke(tenant, "alice", &channel, text, None).await;
            assert_eq!(
                reply.kind,
                klaxon_commands::ReplyKind::Ok,
                "{text}: {}",
                reply.to_plain()
            );
        }
    }
    bot.settle().await;
    // Eight days on: the follow-ups (due the 24th) and the postmortems (five business days
    // after resolve) are overdue.
    bot.advance("8d").await;
    let site = Site::open(&bot, open()).await;

    let list = site.page("/incidents").await;
    assert!(list.contains("<th>Workspace</th>"), "{list}");
    for ws in ["console:local", "console:other"] {
        assert!(list.contains(&format!("<td>{ws}</td>")), "{ws}: {list}");
        assert!(
            list.contains(&format!(
                "href=\"/incidents/1?workspace={}\"",
                ws.replace(':', "%3A")
            )),
            "{ws}: {list}"
        );
    }
    assert!(!list.contains("href=\"/incidents/1\""), "{list}");

    // The number alone names two incidents: refused, with what to do.
    let (status, _, body) = site.get_with("/incidents/1", &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("INC-1 exists in several workspaces"),
        "{body}"
    );
    let theirs = site.page("/incidents/1?workspace=console%3Aother").await;
    assert!(theirs.contains("Theirs is down") && !theirs.contains("Ours is down"));
    assert!(theirs.contains("<dd>console:other</dd>"), "{theirs}");
    assert!(
        theirs.contains("href=\"/incidents/1/postmortem?workspace=console%3Aother\""),
        "{theirs}"
    );
    let ours_page = site.page("/incidents/1?workspace=console%3Alocal").await;
    assert!(ours_page.contains("Ours is down") && !ours_page.contains("Theirs is down"));
    for (bad, says) in [
        ("/incidents/1?workspace=local", "workspace must look like"),
        ("/incidents/1?workspace=irc%3Alocal", "unknown platform"),
    ] {
        let (status, _, body) = site.get_with(bad, &[]).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body.contains(says), "{bad}: {body}");
    }
    assert_eq!(
        site.get_with("/incidents/1?workspace=console%3Anone", &[])
            .await
            .0,
        404
    );

    // The insights' overdue rows name the workspace, and their links open the right one.
    let insights = site.page("/insights").await;
    assert!(insights.contains("<th>Workspace</th>"), "{insights}");
    for ws in ["console:local", "console:other"] {
        let q = ws.replace(':', "%3A");
        assert!(
            insights.contains(&format!("<td>{ws}</td>")),
            "{ws}: {insights}"
        );
        assert!(
            insights.contains(&format!("href=\"/incidents/1?workspace={q}\"")),
            "follow-up of {ws}: {insights}"
        );
        assert!(
            insights.contains(&format!("href=\"/incidents/1/postmortem?workspace={q}\"")),
            "postmortem of {ws}: {insights}"
        );
    }
    assert!(!insights.contains("href=\"/incidents/1\""), "{insights}");
    assert!(
        !insights.contains("href=\"/incidents/1/postmortem\""),
        "{insights}"
    );

    // So does `klaxon report`, in text and in JSON.
    let now = klaxon::clock::Clock::now(&bot.clock);
    let since = now - chrono::Duration::days(30);
    let mut text = String::new();
    klaxon::report::write(bot.store(), since, now, false, &mut text)
        .await
        .expect("report");
    for ws in ["console:local", "console:other"] {
        assert!(
            text.contains(&format!("  INC-1 ({ws}) 1. Fix it")),
            "{ws}: {text}"
        );
    }
    let mut json = String::new();
    klaxon::report::write(bot.store(), since, now, true, &mut json)
        .await
        .expect("report");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let mut workspaces: Vec<&str> = v["overdue_postmortems"]
        .as_array()
        .expect("postmortems")
        .iter()
        .filter_map(|p| p["workspace"].as_str())
        .collect();
    workspaces.sort_unstable();
    assert_eq!(workspaces, ["console:local", "console:other"], "{json}");
}
