//! The real `klaxon` binary as a process, for drills and crash tests: started on a folder (its
//! database, `klaxon.toml` and `stderr.log`) with a platform's environment, waited on until
//! `/readyz`, killed with SIGKILL (a crash: nothing runs after it) or stopped with SIGTERM.

use std::path::Path;
use std::time::Duration;

use crate::fake_discord::{self, FakeDiscord};
use crate::fake_slack::{BOT_TOKEN, FakeSlack, SIGNING_SECRET};
use crate::wait::{eventually, until};

/// One running `klaxon run`; killed with SIGKILL when dropped (a failing test leaves nothing).
pub struct Process {
    child: std::process::Child,
    /// Klaxon's base URL.
    pub url: String,
}

/// Klaxon on the fake Slack, over signed HTTP.
pub fn slack_env(fake: &FakeSlack) -> Vec<(&'static str, String)> {
    vec![
        ("SLACK_BOT_TOKEN", BOT_TOKEN.to_owned()),
        ("SLACK_SIGNING_SECRET", SIGNING_SECRET.to_owned()),
        ("SLACK_API_URL", fake.api_url.clone()),
    ]
}

/// Klaxon on the fake Discord, over the gateway.
pub fn discord_env(fake: &FakeDiscord) -> Vec<(&'static str, String)> {
    vec![
        ("DISCORD_TOKEN", fake_discord::TOKEN.to_owned()),
        (
            "DISCORD_APPLICATION_ID",
            fake_discord::APPLICATION_ID.to_owned(),
        ),
        ("DISCORD_GUILD_IDS", fake_discord::GUILD.to_owned()),
        ("DISCORD_API_URL", fake.api_url.clone()),
    ]
}

/// The replica id of the Klaxon that runs on `dir`.
pub fn replica_id(dir: &Path) -> String {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("klaxon");
    format!("test-{name}")
}

impl Process {
    /// Starts `bin run` on `dir` with `env` (and nothing else of the test's environment).
    pub fn start(bin: &Path, dir: &Path, env: &[(&str, String)]) -> Self {
        // A free port chosen by binding; the listener is closed before Klaxon binds it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("stderr.log"))
            .expect("log file");
        let mut command = std::process::Command::new(bin);
        command
            .arg("run")
            .env_clear()
            .env(
                "KLAXON_DATABASE_URL",
                crate::database::at_blocking(dir, "k.db"),
            )
            .env("KLAXON_CONFIG", dir.join("klaxon.toml"))
            .env("KLAXON_HTTP_ADDR", format!("127.0.0.1:{port}"))
            // One replica per folder, under the same id after a restart, as a systemd unit or
            // a StatefulSet's pod is: it takes up the calls it was making when it died.
            .env(klaxon::replica::VARIABLE, replica_id(dir))
            .env("RUST_LOG", "warn");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start klaxon");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits (up to 30 s) for `/readyz`.
    pub async fn ready(&mut self, client: &reqwest::Client) -> bool {
        eventually(Duration::from_secs(30), async || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("klaxon exited before it was ready: {status}");
            }
            client
                .get(format!("{}/readyz", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await
    }

    /// SIGKILL: the process ends at once, mid-call if it was in one.
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (within `limit`; `None` if it is still running).
    pub async fn terminate_within(mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let pid = i32::try_from(self.child.id()).expect("pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("SIGTERM");
        let mut status = None;
        until(limit, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        })
        .await;
        status
    }

    /// SIGTERM, then the exit status (within 20 s).
    pub async fn terminate(self) -> Option<std::process::ExitStatus> {
        self.terminate_within(Duration::from_secs(20)).await
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_9();
    }
}
