//! Hostile or broken input: a forged Slack timestamp, bad console lines, a second process on
//! the same database, and the alert endpoints under abuse (unauthenticated bodies limited in
//! number, size and time).

use super::*;

#[tokio::test]
async fn a_slack_timestamp_of_now_minus_two_to_the_63_is_refused_not_a_panic() {
    let k = spawn(SlackHttp, Options::default().manual_clock()).await;
    let body = "team_id=T0TEAM&text=declare+sev1+x";
    let ts = Utc::now().timestamp().wrapping_sub(i64::MIN);
    let signature = fake_slack::sign(fake_slack::SIGNING_SECRET, ts, body);
    let r = fake_slack::send(&k.url, body, Some((signature, ts))).await;
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        r.text().await.expect("body"),
        "stale or malformed timestamp\n"
    );
    k.stop().await;
}

/// Runs the real binary with `stdin` (bytes), to the end.
fn run_binary(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = crate::cli::klaxon()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn klaxon");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("klaxon exits")
}

#[test]
fn bad_console_input_is_answered_and_the_session_goes_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let out = run_binary(
        &[
            "console",
            "--db",
            db.to_str().expect("utf-8"),
            "--virtual-time",
            "--start",
            "2026-11-23T09:00:00Z",
        ],
        b"/inc declare sev2 One\n/inc note \xff\xfe oops\n:advance 300000y\n:advance 366d1s\n/inc declare sev2 Two\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("(that line is not valid UTF-8 text, so it was ignored: retype it)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(`300000y` is too long: the longest duration is 366 days (`366d`).)"),
        "{stdout}"
    );
    assert!(stdout.contains("(`366d1s` is too long"), "{stdout}");
    assert!(stdout.contains("INC-2 declared"), "{stdout}");
    assert!(
        !stdout.contains("time is now"),
        "the clock did not move: {stdout}"
    );
}

/// Waits (at most 30 seconds) until the lock file names process `pid`.
fn wait_for_lock(lock: &std::path::Path, pid: u32) -> bool {
    klaxon_tests::wait::blocking_until(Duration::from_secs(30), || {
        std::fs::read_to_string(lock).is_ok_and(|t| t.starts_with(&format!("pid {pid} ")))
    })
}

#[test]
fn a_second_process_on_the_same_database_refuses_to_start() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let db = db.to_str().expect("utf-8");
    let lock = klaxon::lock::lock_path(std::path::Path::new(db));
    let console = || {
        crate::cli::klaxon()
            .args(["console", "--db", db])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn klaxon")
    };
    let mut first = console();
    assert!(
        wait_for_lock(&lock, first.id()),
        "the first process holds the lock"
    );
    let second = run_binary(&["console", "--db", db], b"/inc declare sev1 Twice\n");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another Klaxon is already running on {db}: pid {} on host ",
            first.id()
        )),
        "{stderr}"
    );
    assert!(stderr.contains(", started "), "{stderr}");
    assert!(!String::from_utf8_lossy(&second.stdout).contains("declared"));
    // The first ends normally when its input closes; the database is free again.
    drop(first.stdin.take());
    assert!(first.wait().expect("exit").success());
    let third = run_binary(&["console", "--db", db], b"/inc list\n");
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    // A process killed with SIGKILL leaves no stale lock: the OS releases it.
    let mut fourth = console();
    assert!(wait_for_lock(&lock, fourth.id()));
    fourth.kill().expect("SIGKILL");
    let _ = fourth.wait();
    let fifth = run_binary(&["console", "--db", db], b"/inc list\n");
    assert!(
        fifth.status.success(),
        "{}",
        String::from_utf8_lossy(&fifth.stderr)
    );
}

/// Opens a connection to a served Klaxon and sends a request's head (and the start of its
/// body) but never the rest of the body.
async fn unfinished(k: &Bot<FakeSlack>, head: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let mut tcp = tokio::net::TcpStream::connect(k.url.trim_start_matches("http://"))
        .await
        .expect("connect");
    tcp.write_all(head.as_bytes()).await.expect("write");
    tcp
}

/// The status line of the answer on `tcp`, waiting at most `within`.
async fn status_line(tcp: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(within, tcp.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .map(str::to_owned)
}

#[tokio::test]
async fn the_alert_token_is_checked_before_the_body_is_read() {
    let k = spawn(
        SlackHttp,
        Options::default()
            .alerts(Some(klaxon_tests::spawn::ALERTS_TOKEN))
            .manual_clock(),
    )
    .await;
    // A megabyte announced, a few bytes sent: the refusal does not wait for the rest.
    let mut tcp = unfinished(
        &k,
        "POST /alerts/webhook HTTP/1.1\r\nHost: klaxon\r\nAuthorization: Bearer wrong\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"alerts\": [",
    )
    .await;
    let status = status_line(&mut tcp, Duration::from_secs(5)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 401 Unauthorized"));
    let mut tcp = unfinished(
        &k,
        "POST /alerts/alertmanager HTTP/1.1\r\nHost: klaxon\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{",
    )
    .await;
    let status = status_line(&mut tcp, Duration::from_secs(5)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 401 Unauthorized"));
    k.stop().await;
}

#[tokio::test]
async fn unauthenticated_bodies_are_limited_in_number_and_in_time() {
    let k = spawn(SlackHttp, Options::default().manual_clock()).await;
    let head = "POST /slack/commands HTTP/1.1\r\nHost: klaxon\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntext=";
    let mut slow = Vec::new();
    for _ in 0..klaxon::http::MAX_IN_FLIGHT {
        slow.push(unfinished(&k, head).await);
    }
    // Once they are all being read, one more is refused at once instead of queueing.
    let shed = eventually(LIMIT, async || {
        fake_slack::send(&k.url, "text=hi", None)
            .await
            .status()
            .as_u16()
            == 503
    })
    .await;
    assert!(shed, "a request over the limit is refused with 503");
    // None of them finishes its body: each is answered when the body timeout runs out.
    let answer = status_line(
        &mut slow[0],
        klaxon::http::BODY_TIMEOUT + Duration::from_secs(10),
    )
    .await
    .unwrap_or_default();
    assert!(
        answer.starts_with("HTTP/1.1 4"),
        "refused once the body is late: {answer:?}"
    );
    drop(slow);
    let served_again = eventually(LIMIT, async || {
        fake_slack::send(&k.url, "text=hi", None)
            .await
            .status()
            .as_u16()
            == 401
    })
    .await;
    assert!(served_again, "unsigned, so 401, once there is room again");
    k.stop().await;
}
