//! `klaxon doctor`: checks, for each configured platform, what Klaxon needs from it (a working
//! token, the scopes or permissions its calls use, a paging channel it can post in) and prints
//! one line per check with what to fix. Nothing is posted or changed. A platform is one file
//! (`slack.rs`, `discord.rs`); each returns its [`Check`]s.

mod discord;
mod slack;

use crate::app::PlatformSettings;
use crate::config::Config;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Fail,
    /// Not checkable from here: the line says what to look at by hand.
    Manual,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub platform: &'static str,
    /// What was checked: `token`, `scopes`, `paging channel` …
    pub name: String,
    pub status: Status,
    /// What was found, and for a failure what to fix.
    pub detail: String,
}

impl Check {
    pub fn ok(platform: &'static str, name: &str, detail: impl Into<String>) -> Self {
        Self::new(platform, name, Status::Ok, detail)
    }

    pub fn fail(platform: &'static str, name: &str, fix: impl Into<String>) -> Self {
        Self::new(platform, name, Status::Fail, fix)
    }

    pub fn manual(platform: &'static str, name: &str, what: impl Into<String>) -> Self {
        Self::new(platform, name, Status::Manual, what)
    }

    fn new(platform: &'static str, name: &str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            platform,
            name: name.to_owned(),
            status,
            detail: detail.into(),
        }
    }

    /// `ok    slack  token: …`, `FAIL  slack  scopes: …`, `check slack  /inc: …`.
    pub fn line(&self) -> String {
        let mark = match self.status {
            Status::Ok => "ok   ",
            Status::Fail => "FAIL ",
            Status::Manual => "check",
        };
        format!("{mark} {:<8} {}: {}", self.platform, self.name, self.detail)
    }
}

/// Runs every configured platform's checks.
pub async fn run(config: &Config, settings: &PlatformSettings) -> Vec<Check> {
    let mut checks = Vec::new();
    if settings.slack_bot_token.is_some()
        || settings.slack_app_token.is_some()
        || settings.slack_signing_secret.is_some()
    {
        checks.extend(slack::checks(config, settings).await);
    }
    if settings.discord_token.is_some() {
        checks.extend(discord::checks(config, settings).await);
    }
    if checks.is_empty() {
        checks.push(Check::fail(
            "klaxon",
            "platforms",
            "no platform is configured: set SLACK_BOT_TOKEN (and SLACK_APP_TOKEN or SLACK_SIGNING_SECRET) or DISCORD_TOKEN",
        ));
    }
    checks
}

/// The report, one line per check, and whether every check passed.
pub fn report(checks: &[Check]) -> (String, bool) {
    let mut out = String::new();
    for c in checks {
        out.push_str(&c.line());
        out.push('\n');
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed == 0 {
        out.push_str("All checks passed.\n");
    } else {
        out.push_str(&format!("{failed} of {} checks failed.\n", checks.len()));
    }
    (out, failed == 0)
}
