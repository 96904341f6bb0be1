//! The console serves the pages on 127.0.0.1 (the port of `KLAXON_HTTP_ADDR`), says where once,
//! and goes on without them when the port is taken.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

fn console(db: &str, addr: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(klaxon_tests::binary::klaxon());
    cmd.env_remove("KLAXON_DATABASE_URL")
        .env_remove("KLAXON_CONFIG")
        .env_remove("RUST_LOG")
        .env("KLAXON_HTTP_ADDR", addr)
        .args([
            "console",
            "--db",
            db,
            "--virtual-time",
            "--start",
            "2026-11-23T09:00:00Z",
            "--user",
            "alice",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// A port nobody listens on right now.
async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn the_console_serves_the_pages_on_loopback_and_says_where_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let port = free_port().await;
    // Any host in the address: the console listens on 127.0.0.1 only.
    let mut child = console(db.to_str().expect("utf-8"), &format!("0.0.0.0:{port}"))
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    stdin
        .write_all(b"/inc declare sev2 Checkout API returning 500s\n")
        .await
        .expect("write");
    let mut seen = Vec::new();
    let wait = async {
        while let Some(line) = lines.next_line().await.expect("read") {
            let done = line.contains("pinned the summary");
            seen.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .expect("the console declares");
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(seen[0], format!("Pages: {url}/incidents"), "{seen:#?}");
    let resp = reqwest::get(format!("{url}/incidents"))
        .await
        .expect("pages");
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.expect("body");
    assert!(body.contains("Checkout API returning 500s"), "{body}");
    assert!(body.contains("Signed in as console"), "{body}");
    let resp = reqwest::get(format!("{url}/incidents/1"))
        .await
        .expect("page");
    assert_eq!(resp.status().as_u16(), 200);
    drop(stdin);
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.expect("read") {
        rest.push(line);
    }
    let status = child.wait().await.expect("exits");
    assert!(status.success());
    assert!(
        !rest
            .iter()
            .chain(&seen[1..])
            .any(|l| l.starts_with("Pages:")),
        "said once"
    );
}

#[tokio::test]
async fn a_taken_port_is_said_and_the_console_goes_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("k.db");
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let mut child = console(db.to_str().expect("utf-8"), &format!("127.0.0.1:{port}"))
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"/inc declare sev2 Checkout API returning 500s\n")
        .await
        .expect("write");
    drop(stdin);
    let out = child.wait_with_output().await.expect("exits");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!("(pages not served: 127.0.0.1:{port} is not free")),
        "{stdout}"
    );
    assert!(stdout.contains("INC-1 declared (SEV2)"), "{stdout}");
    drop(taken);
}
