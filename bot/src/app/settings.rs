//! How to reach the chat platforms: tokens, ids and addresses from the environment, wrapped
//! so that no secret can be printed.

use std::time::Duration;

/// How to reach the chat platforms, from the environment (standard Slack names).
#[derive(Clone)]
pub struct PlatformSettings {
    /// `SLACK_BOT_TOKEN` (xoxb-…).
    pub slack_bot_token: Option<secrecy::SecretString>,
    /// `SLACK_SIGNING_SECRET`: enables HTTP mode (`POST /slack/commands`).
    pub slack_signing_secret: Option<secrecy::SecretString>,
    /// `SLACK_APP_TOKEN` (xapp-…): enables Socket Mode, the default transport.
    pub slack_app_token: Option<secrecy::SecretString>,
    /// `SLACK_API_URL`: another Web API base URL, for tests and proxies.
    pub slack_api_url: Option<String>,
    /// `DISCORD_TOKEN`: the bot token; enables Discord over the gateway.
    pub discord_token: Option<secrecy::SecretString>,
    /// `DISCORD_APPLICATION_ID`: needed to register `/inc` and answer interactions.
    pub discord_application_id: Option<u64>,
    /// `DISCORD_GUILD_IDS`: comma-separated guilds to register `/inc` in (instant).
    pub discord_guild_ids: Vec<u64>,
    /// `DISCORD_GLOBAL_COMMANDS=1`: also register `/inc` globally.
    pub discord_global_commands: bool,
    /// `DISCORD_PUBLIC_KEY`: enables `POST /discord/interactions` (Ed25519-signed).
    pub discord_public_key: Option<String>,
    /// `DISCORD_API_URL`: another REST base URL, for tests and proxies (the gateway URL then
    /// comes from it too).
    pub discord_api_url: Option<String>,
    /// How long an interaction waits for the engine before it is deferred.
    pub discord_defer_after: Duration,
    /// `KLAXON_HTTP_ADDR`, default `127.0.0.1:3000`.
    pub http_addr: String,
    /// `KLAXON_ALERTS_TOKEN`: the bearer token of `POST /alerts/*`; unset, alert intake is off.
    pub alerts_token: Option<secrecy::SecretString>,
    /// `KLAXON_FEED_SECRET`: the key of the on-call calendar feeds' tokens; unset, no feed is
    /// served.
    pub feed_secret: Option<secrecy::SecretString>,
    /// `KLAXON_SHUTDOWN_GRACE` (whole seconds, default 10): how long a shutdown may spend on
    /// runbook actions in flight and pending platform calls before it leaves the rest queued
    /// for the next start.
    pub shutdown_grace: Duration,
    /// This process among the replicas of one PostgreSQL database.
    pub replica: ReplicaSettings,
}

/// How a replica names itself, leads and is woken by the others (on PostgreSQL; on SQLite it is
/// the only process and leads from the start).
#[derive(Debug, Clone)]
pub struct ReplicaSettings {
    /// Its id in leases, `/readyz` and `/metrics` ([`crate::replica::id`]).
    pub id: String,
    /// The Discord gateway's lease.
    pub lease: crate::leader::Timing,
    /// How often the dispatcher and scheduler look without a notification
    /// ([`crate::wakeups::FALLBACK_POLL`]).
    pub poll: Duration,
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        Self {
            id: crate::replica::id().to_owned(),
            lease: crate::leader::Timing::default(),
            poll: crate::wakeups::FALLBACK_POLL,
        }
    }
}

/// The shutdown grace unless `KLAXON_SHUTDOWN_GRACE` says otherwise.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The longest grace `KLAXON_SHUTDOWN_GRACE` may ask for.
const MAX_SHUTDOWN_GRACE: u64 = 3600;

/// `KLAXON_SHUTDOWN_GRACE`: whole seconds, `10` or `10s`, from 0 to an hour.
fn shutdown_grace(value: &str) -> anyhow::Result<Duration> {
    let digits = value.trim().strip_suffix('s').unwrap_or(value.trim());
    digits
        .parse::<u64>()
        .ok()
        .filter(|s| *s <= MAX_SHUTDOWN_GRACE && digits.bytes().all(|b| b.is_ascii_digit()))
        .map(Duration::from_secs)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "KLAXON_SHUTDOWN_GRACE: `{value}` is not a number of seconds from 0 to {MAX_SHUTDOWN_GRACE}"
            )
        })
}

impl std::fmt::Debug for PlatformSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSettings")
            .field(
                "slack_bot_token",
                &self.slack_bot_token.as_ref().map(|_| "<set>"),
            )
            .field(
                "slack_signing_secret",
                &self.slack_signing_secret.as_ref().map(|_| "<set>"),
            )
            .field(
                "slack_app_token",
                &self.slack_app_token.as_ref().map(|_| "<set>"),
            )
            .field("slack_api_url", &self.slack_api_url)
            .field(
                "discord_token",
                &self.discord_token.as_ref().map(|_| "<set>"),
            )
            .field("discord_application_id", &self.discord_application_id)
            .field("discord_guild_ids", &self.discord_guild_ids)
            .field("discord_global_commands", &self.discord_global_commands)
            .field("discord_public_key", &self.discord_public_key)
            .field("discord_api_url", &self.discord_api_url)
            .field("http_addr", &self.http_addr)
            .field("alerts_token", &self.alerts_token.as_ref().map(|_| "<set>"))
            .field("feed_secret", &self.feed_secret.as_ref().map(|_| "<set>"))
            .field("shutdown_grace", &self.shutdown_grace)
            .field("replica", &self.replica)
            .finish()
    }
}

impl Default for PlatformSettings {
    fn default() -> Self {
        Self {
            slack_bot_token: None,
            slack_signing_secret: None,
            slack_app_token: None,
            slack_api_url: None,
            discord_token: None,
            discord_application_id: None,
            discord_guild_ids: Vec::new(),
            discord_global_commands: false,
            discord_public_key: None,
            discord_api_url: None,
            discord_defer_after: Duration::from_millis(1500),
            http_addr: "127.0.0.1:3000".to_owned(),
            alerts_token: None,
            feed_secret: None,
            shutdown_grace: SHUTDOWN_GRACE,
            replica: ReplicaSettings::default(),
        }
    }
}

impl PlatformSettings {
    /// Reads the environment; a malformed id is an error naming the variable.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let secret = |name: &str| var(name).map(secrecy::SecretString::from);
        let id = |name: &str, v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| anyhow::anyhow!("{name}: `{v}` is not a Discord id"))
        };
        let discord_application_id = var("DISCORD_APPLICATION_ID")
            .map(|v| id("DISCORD_APPLICATION_ID", &v))
            .transpose()?;
        let discord_guild_ids = var("DISCORD_GUILD_IDS")
            .map(|v| {
                v.split(',')
                    .filter(|g| !g.trim().is_empty())
                    .map(|g| id("DISCORD_GUILD_IDS", g))
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            slack_bot_token: secret("SLACK_BOT_TOKEN"),
            slack_signing_secret: secret("SLACK_SIGNING_SECRET"),
            slack_app_token: secret("SLACK_APP_TOKEN"),
            slack_api_url: var("SLACK_API_URL"),
            discord_token: secret("DISCORD_TOKEN"),
            discord_application_id,
            discord_guild_ids,
            discord_global_commands: var("DISCORD_GLOBAL_COMMANDS")
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "yes")),
            discord_public_key: var("DISCORD_PUBLIC_KEY"),
            discord_api_url: var("DISCORD_API_URL"),
            discord_defer_after: Duration::from_millis(1500),
            http_addr: var("KLAXON_HTTP_ADDR").unwrap_or_else(|| "127.0.0.1:3000".to_owned()),
            alerts_token: secret("KLAXON_ALERTS_TOKEN"),
            feed_secret: secret("KLAXON_FEED_SECRET"),
            shutdown_grace: var("KLAXON_SHUTDOWN_GRACE")
                .map(|v| shutdown_grace(&v))
                .transpose()?
                .unwrap_or(SHUTDOWN_GRACE),
            replica: ReplicaSettings::default(),
        })
    }

    /// Whether any platform is configured (otherwise `klaxon run` runs the console).
    pub fn any(&self) -> bool {
        self.slack_bot_token.is_some()
            || self.slack_app_token.is_some()
            || self.slack_signing_secret.is_some()
            || self.discord_token.is_some()
            || self.discord_public_key.is_some()
    }

    pub(crate) fn discord_rest(&self) -> klaxon_discord::RestSettings {
        klaxon_discord::RestSettings {
            api_url: self.discord_api_url.clone(),
            application_id: self.discord_application_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shutdown_grace_is_whole_seconds_up_to_an_hour() {
        assert_eq!(shutdown_grace("2").ok(), Some(Duration::from_secs(2)));
        assert_eq!(shutdown_grace(" 30s ").ok(), Some(Duration::from_secs(30)));
        assert_eq!(shutdown_grace("0").ok(), Some(Duration::ZERO));
        for bad in [
            "",
            "s",
            "-1",
            "1.5",
            "10m",
            "3601",
            "+5",
            "99999999999999999999",
        ] {
            let e = shutdown_grace(bad).expect_err(bad).to_string();
            assert!(e.starts_with("KLAXON_SHUTDOWN_GRACE: "), "{e}");
        }
    }
}
