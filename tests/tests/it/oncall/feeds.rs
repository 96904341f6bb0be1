//! The calendar feeds over HTTP (`/oncall/<schedule>.ics`, `/oncall/person/<id>.ics`) on the
//! example schedule: parsed with the `ical` crate, events in UTC across the spring changes in
//! Berlin and New York, covers from the database, and the token: wrong, missing or rotated
//! addresses get a bare 404.

use std::sync::Arc;

use klaxon::feeds::{Feed, FeedState};
use klaxon_tests::TestBot;
use secrecy::SecretString;

const SECRET: &str = "feed-secret-for-tests-5b1f0c";

/// The feeds of `bot`, served on 127.0.0.1.
struct Feeds {
    url: String,
    store: klaxon::store::Store,
    clock: klaxon::clock::ManualClock,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Feeds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Feeds {
    async fn open(bot: &TestBot) -> Self {
        let state = Arc::new(FeedState {
            store: bot.store().clone(),
            clock: Arc::new(bot.clock.clone()),
            schedules: Arc::clone(&bot.app.schedules),
            secret: SecretString::from(SECRET),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app: axum::Router = klaxon::feeds::router(Some(state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            store: bot.store().clone(),
            clock: bot.clock.clone(),
            task,
        }
    }

    /// Issues (or rotates) `feed`; its path and query.
    async fn issue(&self, feed: &Feed, rotate: bool) -> String {
        use klaxon::clock::Clock as _;
        klaxon::feeds::issue(
            &self.store,
            &SecretString::from(SECRET),
            feed,
            rotate,
            self.clock.now(),
        )
        .await
        .expect("issue")
    }

    async fn get(&self, path: &str) -> (u16, Option<String>, String) {
        let resp = reqwest::get(format!("{}{path}", self.url))
            .await
            .expect("answer");
        let status = resp.status().as_u16();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, kind, resp.text().await.expect("body"))
    }

    /// The feed at `path`, which must be served, parsed.
    async fn calendar(&self, path: &str) -> ical::parser::ical::component::IcalCalendar {
        let (status, kind, body) = self.get(path).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(kind.as_deref(), Some("text/calendar; charset=utf-8"));
        assert!(body.contains("\r\n"), "lines end in CRLF");
        let mut calendars = ical::IcalParser::new(std::io::BufReader::new(body.as_bytes()));
        let calendar = calendars
            .next()
            .expect("one calendar")
            .unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(calendars.next().is_none());
        calendar
    }
}

/// An event's `(DTSTART, DTEND, SUMMARY)`.
type Event = (String, String, String);

fn events(calendar: &ical::parser::ical::component::IcalCalendar) -> Vec<Event> {
    calendar
        .events
        .iter()
        .map(|e| {
            let get = |name: &str| {
                e.properties
                    .iter()
                    .find(|p| p.name == name)
                    .and_then(|p| p.value.clone())
                    .unwrap_or_else(|| panic!("no {name} in {e:?}"))
            };
            (get("DTSTART"), get("DTEND"), get("SUMMARY"))
        })
        .collect()
}

fn event(start: &str, end: &str, summary: &str) -> Event {
    (start.into(), end.into(), summary.into())
}

async fn bot() -> TestBot {
    let mut config = klaxon::config::Config::default();
    config.oncall.dir = super::SCHEDULES.into();
    TestBot::with_config(config).await
}

#[tokio::test]
async fn a_schedule_feed_lists_every_layer_in_utc_across_dst_with_covers() {
    let bot = bot().await;
    bot.ok(
        "oncall",
        "general",
        "/inc oncall cover @U0BOB 4h payments/secondary",
    )
    .await;
    let feeds = Feeds::open(&bot).await;
    let path = feeds.issue(&Feed::Schedule("payments".into()), false).await;
    assert!(path.starts_with("/oncall/payments.ics?token="), "{path}");
    let calendar = feeds.calendar(&path).await;
    let value = |name: &str| {
        calendar
            .properties
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.value.clone())
    };
    assert_eq!(value("VERSION").as_deref(), Some("2.0"));
    assert_eq!(value("X-WR-CALNAME").as_deref(), Some("On call: payments"));
    let all = events(&calendar);
    for (start, end, _) in &all {
        assert!(start.ends_with('Z') && end.ends_with('Z'), "{start} {end}");
        // Eight weeks back from 2026-11-23 09:00 UTC, 26 ahead.
        assert!(start.as_str() >= "20260928T090000Z", "{start}");
        assert!(end.as_str() <= "20270524T090000Z", "{end}");
    }
    // The rota starts on 2026-11-02 at 09:00 Berlin time; before that nobody is on call, and
    // that is the feed's one gap.
    let gaps: Vec<&Event> = all
        .iter()
        .filter(|(_, _, s)| s.starts_with("Nobody"))
        .collect();
    assert_eq!(
        gaps,
        [&event(
            "20260928T090000Z",
            "20261102T080000Z",
            "Nobody on call for payments"
        )]
    );
    // Berlin's spring change (2027-03-28): the Monday 09:00 handoff moves from 08:00 UTC to
    // 07:00 UTC, so that week is 167 hours.
    assert!(
        all.contains(&event(
            "20270322T080000Z",
            "20270329T070000Z",
            "U0CAROL on call for payments/primary"
        )),
        "{all:#?}"
    );
    assert!(all.contains(&event(
        "20270329T070000Z",
        "20270405T070000Z",
        "U0ALICE on call for payments/primary"
    )));
    // New York's (2027-03-14): Monday 10:00 is 15:00 UTC before, 14:00 UTC after.
    assert!(
        all.iter()
            .any(|(s, e, _)| s == "20270308T150000Z" && e == "20270315T140000Z"),
        "{all:#?}"
    );
    // The cover set in chat, and the rotation around it.
    assert!(all.contains(&event(
        "20261123T090000Z",
        "20261123T130000Z",
        "U0BOB covering payments/secondary"
    )));
    assert!(all.contains(&event(
        "20261123T130000Z",
        "20261123T150000Z",
        "U0DAVE on call for payments/secondary"
    )));
    // Every event has a UID and a DTSTAMP, and UIDs are unique.
    let mut uids: Vec<String> = calendar
        .events
        .iter()
        .map(|e| {
            assert!(e.properties.iter().any(|p| p.name == "DTSTAMP"));
            e.properties
                .iter()
                .find(|p| p.name == "UID")
                .and_then(|p| p.value.clone())
                .expect("UID")
        })
        .collect();
    let n = uids.len();
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), n);
}

#[tokio::test]
async fn a_person_feed_holds_only_that_persons_shifts_over_every_layer() {
    let bot = bot().await;
    bot.ok(
        "oncall",
        "general",
        "/inc oncall cover @U0ALICE from 2026-11-24 18:00 until 2026-11-25 06:00 payments/secondary",
    )
    .await;
    let feeds = Feeds::open(&bot).await;
    let path = feeds.issue(&Feed::Person("U0ALICE".into()), false).await;
    assert!(
        path.starts_with("/oncall/person/U0ALICE.ics?token="),
        "{path}"
    );
    let all = events(&feeds.calendar(&path).await);
    assert!(
        all.contains(&event(
            "20261124T180000Z",
            "20261125T060000Z",
            "Covering payments/secondary"
        )),
        "{all:#?}"
    );
    assert!(
        all.contains(&event(
            "20261123T080000Z",
            "20261130T080000Z",
            "On call for payments/primary"
        )),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .all(|(_, _, s)| s == "On call for payments/primary"
                || s == "Covering payments/secondary"),
        "{all:#?}"
    );
    // Every third week, in Berlin time.
    let primary = all
        .iter()
        .filter(|(_, _, s)| s == "On call for payments/primary")
        .count();
    assert!((8..=10).contains(&primary), "{primary}: {all:#?}");
}

#[tokio::test]
async fn a_wrong_missing_or_rotated_token_gets_a_bare_404() {
    let bot = bot().await;
    let feeds = Feeds::open(&bot).await;
    let payments = Feed::Schedule("payments".into());
    let first = feeds.issue(&payments, false).await;
    // Asking again gives the same address; rotating gives a new one.
    assert_eq!(feeds.issue(&payments, false).await, first);
    let token = first.split("token=").nth(1).expect("token");
    assert_eq!(token.len(), 64);
    let feeds = &feeds;
    let bare = async |path: String| {
        let (status, _, body) = feeds.get(&path).await;
        assert_eq!((status, body.as_str()), (404, "not found\n"), "{path}");
    };
    bare("/oncall/payments.ics".to_owned()).await;
    bare("/oncall/payments.ics?token=".to_owned()).await;
    bare(format!("/oncall/payments.ics?token={}", "0".repeat(64))).await;
    bare("/oncall/payments.ics?token=not-hex".to_owned()).await;
    // A schedule's token is not a person's, nor another schedule's.
    bare(format!("/oncall/person/U0ALICE.ics?token={token}")).await;
    bare(format!("/oncall/billing.ics?token={token}")).await;
    bare(format!("/oncall/payments.txt?token={token}")).await;
    // Never issued: no address works, even one made with the secret.
    let never = klaxon::feeds::token(
        &SecretString::from(SECRET),
        &Feed::Person("U0BOB".into()),
        1,
    )
    .expect("token");
    bare(format!("/oncall/person/U0BOB.ics?token={never}")).await;

    let (status, _, _) = feeds.get(&first).await;
    assert_eq!(status, 200);
    let rotated = feeds.issue(&payments, true).await;
    assert_ne!(rotated, first);
    bare(first.clone()).await;
    let (status, _, _) = feeds.get(&rotated).await;
    assert_eq!(status, 200);
}

#[test]
fn oncall_feed_prints_a_secret_address_and_rotate_replaces_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let db = db.to_str().expect("utf-8");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../oncall");
    let config = dir.path().join("klaxon.toml");
    std::fs::write(
        &config,
        format!(
            "[oncall]\ndir = {examples:?}\n[web]\npublic_url = \"https://klaxon.example.com\"\n"
        ),
    )
    .expect("write");
    let config = config.to_str().expect("utf-8");
    let feed = |args: &[&str], secret: Option<&str>| {
        let mut cmd = crate::cli::klaxon();
        cmd.args(["oncall", "feed"])
            .args(args)
            .args(["--db", db, "--config", config])
            .env_remove("KLAXON_FEED_SECRET");
        if let Some(secret) = secret {
            cmd.env("KLAXON_FEED_SECRET", secret);
        }
        cmd.output().expect("klaxon exits")
    };
    let out = feed(&["payments"], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("KLAXON_FEED_SECRET is not set"),
        "{}",
        text(&out.stderr)
    );
    let secret = Some("cli-feed-secret-0d9a");
    let out = feed(&["payments"], secret);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = text(&out.stdout);
    assert!(
        first.starts_with("https://klaxon.example.com/oncall/payments.ics?token="),
        "{first}"
    );
    assert!(first.contains("`klaxon oncall feed payments --rotate` replaces it."));
    // The same address again until it is rotated.
    assert_eq!(text(&feed(&["payments"], secret).stdout), first);
    let rotated = text(&feed(&["payments", "--rotate"], secret).stdout);
    assert_ne!(rotated.lines().next(), first.lines().next());
    assert!(
        rotated.contains("the address given before no longer works"),
        "{rotated}"
    );
    let person = text(&feed(&["--person", "U0ALICE"], secret).stdout);
    assert!(
        person.starts_with("https://klaxon.example.com/oncall/person/U0ALICE.ics?token="),
        "{person}"
    );
    for (args, error) in [
        (&["nope"][..], "no valid schedule `nope`"),
        (
            &["--person", "U0NOBODY"][..],
            "`U0NOBODY` is a participant of no valid schedule",
        ),
    ] {
        let out = feed(args, secret);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(error), "{}", text(&out.stderr));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
