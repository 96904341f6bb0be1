//! `[business_hours]` and `[reminders]`: when a team works, in its own time zone, and which
//! severities' reminders wait for it.

use chrono::{DateTime, Utc};
use klaxon_commands::Severity;
use serde::Deserialize;

/// `[reminders]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemindersConfig {
    /// Severities whose reminders wait for business hours. SEV1 and SEV2 always fire, so only
    /// sev3 and sev4 are accepted.
    #[serde(deserialize_with = "quiet_severities")]
    pub business_hours_only: Vec<Severity>,
}

fn quiet_severities<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Severity>, D::Error> {
    let severities = Vec::<Severity>::deserialize(d)?;
    if let Some(s) = severities
        .iter()
        .find(|s| !matches!(s, Severity::Sev3 | Severity::Sev4))
    {
        return Err(serde::de::Error::custom(format!(
            "reminders.business_hours_only: {s} reminders always fire; only sev3 and sev4 can wait for business hours"
        )));
    }
    Ok(severities)
}

/// `[business_hours]`: when a team works, in its own time zone. Used by quiet hours and by
/// "next business day" acknowledgement targets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusinessHours {
    /// An IANA time zone, such as `Europe/Paris`.
    pub timezone: chrono_tz::Tz,
    /// `HH:MM`, local time.
    #[serde(deserialize_with = "de_time")]
    pub start: chrono::NaiveTime,
    #[serde(deserialize_with = "de_time")]
    pub end: chrono::NaiveTime,
    /// Working days: `mon` … `sun`.
    #[serde(deserialize_with = "de_days")]
    pub days: Vec<chrono::Weekday>,
}

impl Default for BusinessHours {
    fn default() -> Self {
        use chrono::Weekday::{Fri, Mon, Thu, Tue, Wed};
        Self {
            timezone: chrono_tz::UTC,
            start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap_or_default(),
            days: vec![Mon, Tue, Wed, Thu, Fri],
        }
    }
}

impl BusinessHours {
    /// What one key cannot say alone: the day starts before it ends.
    pub(super) fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.start < self.end,
            "business_hours.start must be before business_hours.end"
        );
        Ok(())
    }

    fn local(&self, t: DateTime<Utc>) -> DateTime<chrono_tz::Tz> {
        t.with_timezone(&self.timezone)
    }

    /// The UTC instant of `time` on local `date`; in a DST gap, the first valid instant after.
    fn at(&self, date: chrono::NaiveDate, time: chrono::NaiveTime) -> Option<DateTime<Utc>> {
        use chrono::TimeZone as _;
        let naive = date.and_time(time);
        self.timezone
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                self.timezone
                    .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    }

    /// Whether `t` falls within business hours.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        use chrono::Datelike as _;
        let local = self.local(t);
        self.days.contains(&local.weekday())
            && local.time() >= self.start
            && local.time() < self.end
    }

    /// `t` if business hours are open then, else when they next open.
    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(t) {
            return t;
        }
        self.next_start(t, 0).unwrap_or(t)
    }

    /// The same local time `n` business days after `t` (n = 0: `t`). A `t` on a day off counts
    /// from the next business day.
    pub fn add_business_days(&self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        use chrono::Datelike as _;
        let local = self.local(t);
        let mut date = local.date_naive();
        let mut left = n;
        let mut guard = 0;
        while left > 0 && guard < 400 {
            date += chrono::Duration::days(1);
            guard += 1;
            if self.days.contains(&date.weekday()) {
                left -= 1;
            }
        }
        self.at(date, local.time()).unwrap_or(t)
    }

    /// The same local time on the business day before `t`'s day.
    pub fn previous_business_day(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        use chrono::Datelike as _;
        let local = self.local(t);
        let mut date = local.date_naive();
        for _ in 0..15 {
            date -= chrono::Duration::days(1);
            if self.days.contains(&date.weekday()) {
                break;
            }
        }
        self.at(date, local.time()).unwrap_or(t)
    }

    /// The start of business on `date` (a local date).
    pub fn start_of(&self, date: chrono::NaiveDate) -> DateTime<Utc> {
        self.at(date, self.start)
            .unwrap_or_else(|| date.and_time(self.start).and_utc())
    }

    /// The local date of `t`.
    pub fn date_of(&self, t: DateTime<Utc>) -> chrono::NaiveDate {
        self.local(t).date_naive()
    }

    /// The start of the first business day after the day of `t` (local dates).
    pub fn next_business_day(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.next_start(t, 1)
            .unwrap_or(t + chrono::Duration::days(1))
    }

    /// The first day start at or after `t`, looking from `from_day` days after `t`'s date.
    fn next_start(&self, t: DateTime<Utc>, from_day: i64) -> Option<DateTime<Utc>> {
        use chrono::Datelike as _;
        let today = self.local(t).date_naive();
        (from_day..from_day + 15).find_map(|d| {
            let date = today + chrono::Duration::days(d);
            if !self.days.contains(&date.weekday()) {
                return None;
            }
            self.at(date, self.start)
                .filter(|start| *start >= t || from_day > 0)
        })
    }
}

fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<chrono::NaiveTime, D::Error> {
    let s = String::deserialize(d)?;
    chrono::NaiveTime::parse_from_str(&s, "%H:%M")
        .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a time like 09:00")))
}

fn de_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<chrono::Weekday>, D::Error> {
    let days = Vec::<String>::deserialize(d)?;
    if days.is_empty() {
        return Err(serde::de::Error::custom(
            "business_hours.days must name at least one day",
        ));
    }
    days.iter()
        .map(|s| {
            s.parse::<chrono::Weekday>()
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a day like mon")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn business_hours_in_a_time_zone() {
        let c = Config::parse("[business_hours]\ntimezone = \"Europe/Paris\"").expect("valid");
        let bh = &c.business_hours;
        // Monday 2026-11-23: Paris is UTC+1, so hours are 08:00-17:00 UTC.
        assert!(!bh.is_open(utc("2026-11-23T07:59:00Z")));
        assert!(bh.is_open(utc("2026-11-23T08:00:00Z")));
        assert!(!bh.is_open(utc("2026-11-23T17:00:00Z")));
        assert_eq!(
            bh.next_open(utc("2026-11-23T05:00:00Z")),
            utc("2026-11-23T08:00:00Z")
        );
        assert_eq!(
            bh.next_open(utc("2026-11-23T10:00:00Z")),
            utc("2026-11-23T10:00:00Z")
        );
        // Friday evening → Monday morning.
        assert_eq!(
            bh.next_open(utc("2026-11-27T18:00:00Z")),
            utc("2026-11-30T08:00:00Z")
        );
        assert_eq!(
            bh.next_business_day(utc("2026-11-27T09:00:00Z")),
            utc("2026-11-30T08:00:00Z")
        );
        assert_eq!(
            bh.next_business_day(utc("2026-11-23T03:00:00Z")),
            utc("2026-11-24T08:00:00Z")
        );
        // Five business days after Friday 10:00 UTC is the next Friday; after Wednesday, Wednesday.
        assert_eq!(
            bh.add_business_days(utc("2026-11-27T10:00:00Z"), 5),
            utc("2026-12-04T10:00:00Z")
        );
        assert_eq!(
            bh.add_business_days(utc("2026-11-25T10:00:00Z"), 5),
            utc("2026-12-02T10:00:00Z")
        );
        assert_eq!(
            bh.previous_business_day(utc("2026-11-30T10:00:00Z")),
            utc("2026-11-27T10:00:00Z")
        );
        // Summer time: 2026-07-06 is a Monday, Paris is UTC+2.
        assert_eq!(
            bh.next_open(utc("2026-07-06T00:00:00Z")),
            utc("2026-07-06T07:00:00Z")
        );
    }
}
