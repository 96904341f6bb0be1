//! `klaxon oncall check`, `show` and `feed`: the schedule files checked and shown, and the
//! calendar feeds' secret addresses issued.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::feeds::Feed;
use crate::store::oncall::by_layer;

use super::OncallCmd;

/// `klaxon oncall check` and `klaxon oncall show`, as of `now`. `show` applies the covers stored
/// in `db` when there is a database there.
pub(super) async fn oncall(
    cmd: &OncallCmd,
    config: &Config,
    db: &str,
    now: DateTime<Utc>,
    out: &mut String,
) -> anyhow::Result<()> {
    use crate::oncall::Schedules;
    use std::fmt::Write as _;
    let dir = match cmd {
        OncallCmd::Check { dir } | OncallCmd::Show { dir, .. } | OncallCmd::Feed { dir, .. } => {
            dir.as_ref().unwrap_or(&config.oncall.dir)
        }
    };
    anyhow::ensure!(dir.is_dir(), "no on-call folder at {}", dir.display());
    let (schedules, mut problems) = Schedules::load_dir(dir);
    match cmd {
        OncallCmd::Check { .. } => {
            problems.extend(schedules.gap_problems(now));
            for problem in &problems {
                writeln!(out, "{problem}")?;
            }
            let tiers = schedules.tier_problems(config);
            for problem in &tiers {
                writeln!(out, "{problem}")?;
            }
            anyhow::ensure!(
                problems.is_empty() && tiers.is_empty(),
                "{} problems in the schedules in {}",
                problems.len() + tiers.len(),
                dir.display()
            );
            writeln!(
                out,
                "{}: {} schedule{}, all valid, nobody missing in the next 90 days.",
                dir.display(),
                schedules.by_name.len(),
                if schedules.by_name.len() == 1 {
                    ""
                } else {
                    "s"
                }
            )?;
            Ok(())
        }
        OncallCmd::Show {
            schedule,
            from,
            days,
            ..
        } => {
            let Some(s) = schedules.by_name.get(schedule) else {
                for problem in &problems {
                    writeln!(out, "{problem}")?;
                }
                let known: Vec<&str> = schedules.by_name.keys().map(String::as_str).collect();
                anyhow::bail!(
                    "no valid schedule `{schedule}` in {} (valid: {})",
                    dir.display(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
            };
            let from = from
                .unwrap_or_else(|| now.date_naive())
                .and_time(chrono::NaiveTime::MIN)
                .and_utc();
            let to = from + chrono::Duration::days(i64::from(*days));
            // No database yet means nobody has set a cover.
            let covers = if super::read::is_there(db) {
                let store = super::read::existing(db).await?;
                let mut conn = store.read().await?;
                by_layer(&mut conn, schedule, from).await?
            } else {
                std::collections::BTreeMap::new()
            };
            out.push_str(&crate::oncall::rota(s, from, to, &covers));
            Ok(())
        }
        OncallCmd::Feed {
            schedule,
            person,
            rotate,
            ..
        } => {
            let feed = match (schedule, person) {
                (_, Some(person)) => {
                    anyhow::ensure!(
                        crate::oncall::calendar::is_participant(&schedules, person),
                        "`{person}` is a participant of no valid schedule in {}",
                        dir.display()
                    );
                    Feed::Person(person.clone())
                }
                (Some(name), None) => {
                    anyhow::ensure!(
                        schedules.by_name.contains_key(name),
                        "no valid schedule `{name}` in {} (`klaxon oncall check` says why)",
                        dir.display()
                    );
                    Feed::Schedule(name.clone())
                }
                (None, None) => anyhow::bail!("name a schedule or --person"),
            };
            let secret = std::env::var("KLAXON_FEED_SECRET")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .map(secrecy::SecretString::from)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "KLAXON_FEED_SECRET is not set: set it (a long random string) here and in the bot's environment; feeds are off without it"
                    )
                })?;
            let store = crate::store::Store::open(db).await?;
            let address = crate::feeds::issue(&store, &secret, &feed, *rotate, now).await?;
            store.close().await;
            let base = base_url(config);
            writeln!(out, "{}{address}", base.trim_end_matches('/'))?;
            writeln!(
                out,
                "Anyone with this address can read the feed. `klaxon oncall feed {} --rotate` replaces it{}.",
                match &feed {
                    Feed::Schedule(s) => s.clone(),
                    Feed::Person(p) => format!("--person {p}"),
                },
                if *rotate {
                    "; the address given before no longer works"
                } else {
                    ""
                }
            )?;
            Ok(())
        }
    }
}

/// Where the bot is reached: `[web] public_url`, else `KLAXON_HTTP_ADDR` (127.0.0.1:3000).
fn base_url(config: &Config) -> String {
    match &config.web.public_url {
        Some(url) => url.to_string(),
        None => format!(
            "http://{}",
            std::env::var("KLAXON_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        ),
    }
}
