//! Alert intake: Alertmanager's webhook (version 4) and Klaxon's own small JSON, the bearer
//! token that guards both, and the routing rules of `[alerts]` in `klaxon.toml`.
//!
//! This module only reads and routes. What an alert does (announce, deduplicate, declare,
//! resolve) is one engine transaction: `Engine::ingest_alerts`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use klaxon_commands::{PlatformKind, Severity, Tenant};
use serde::Deserialize;

pub mod http;

/// `[alerts]`: how incoming alerts become announcements and incidents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The label whose value names the severity (Alertmanager's convention: `severity`).
    pub severity_label: String,
    /// Label values (any case) and the severity they mean. The defaults: `critical` → SEV1,
    /// `error`/`high` → SEV2, `warning` → SEV3, `info` → SEV4. A value such as `sev2` or `2`
    /// is read as that severity directly.
    pub severities: BTreeMap<String, Severity>,
    /// When nothing says: this.
    pub default_severity: Severity,
    /// The rules, first match wins. An alert no rule matches is counted and dropped.
    pub routes: Vec<Route>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        let severities = [
            ("critical", Severity::Sev1),
            ("page", Severity::Sev1),
            ("error", Severity::Sev2),
            ("high", Severity::Sev2),
            ("warning", Severity::Sev3),
            ("warn", Severity::Sev3),
            ("info", Severity::Sev4),
            ("low", Severity::Sev4),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Self {
            severity_label: "severity".to_owned(),
            severities,
            default_severity: Severity::Sev3,
            routes: Vec::new(),
        }
    }
}

/// `[[alerts.routes]]`: alerts whose labels match go to these channels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A name for logs.
    #[serde(default)]
    pub name: Option<String>,
    /// Labels that must all be present with exactly these values. Empty: every alert.
    #[serde(default, rename = "match")]
    pub matchers: BTreeMap<String, String>,
    /// The paging channels to announce in.
    pub targets: Vec<Target>,
    /// Declare the incident at once instead of offering a "Declare incident" button.
    #[serde(default)]
    pub auto_declare: bool,
    /// The severity of every alert this rule matches, instead of its label.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// A paging channel on a platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `slack`, `discord` or `console`.
    pub platform: PlatformKind,
    /// The Slack team id (`T…`) or Discord guild id the channel belongs to: incidents declared
    /// from the alert belong to that workspace.
    pub workspace: String,
    /// The channel id (Slack `C…`, a Discord channel snowflake; a name on the console).
    pub channel: String,
}

impl Target {
    pub fn tenant(&self) -> Tenant {
        Tenant::new(self.platform, self.workspace.clone())
    }
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert, whichever endpoint it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `alertmanager`, or the webhook's `source`.
    pub source: String,
    pub fingerprint: String,
    pub status: AlertStatus,
    pub title: String,
    pub summary: Option<String>,
    /// What the payload said about severity (a webhook's `severity`), before the labels.
    pub severity: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub link: Option<String>,
}

/// An alert and where its rule sends it.
#[derive(Debug, Clone)]
pub struct Routed {
    pub alert: Alert,
    pub severity: Severity,
    pub auto_declare: bool,
    pub targets: Vec<Target>,
}

/// What one request did, as the endpoint answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    /// Alerts in the payload.
    pub received: usize,
    /// New announcements queued.
    pub announced: usize,
    /// Announcements edited because their alert fired again or was already known.
    pub deduplicated: usize,
    /// Announcements edited to resolved.
    pub resolved: usize,
    /// Incidents declared by rule.
    pub declared: usize,
    /// Alerts no rule matched, or whose every target's platform is not configured.
    pub unrouted: usize,
    /// Resolved alerts Klaxon never saw firing: nothing to edit.
    pub ignored: usize,
}

/// Alertmanager's webhook body, version 4. Only what Klaxon reads; other fields are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerPayload {
    version: String,
    #[serde(default)]
    external_url: Option<String>,
    alerts: Vec<AlertmanagerAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerAlert {
    status: AlertStatus,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "read for validation: a malformed time is a malformed payload"
    )]
    starts_at: Option<DateTime<Utc>>,
}

/// Klaxon's own webhook body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookPayload {
    title: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    link: Option<String>,
    /// `firing` (the default) or `resolved`.
    #[serde(default)]
    status: Option<AlertStatus>,
}

/// The most alerts one request may carry.
pub const MAX_ALERTS: usize = 500;

/// Reads an Alertmanager webhook body; the error is the reason for a 400.
pub fn parse_alertmanager(body: &[u8]) -> Result<Vec<Alert>, String> {
    let payload: AlertmanagerPayload =
        serde_json::from_slice(body).map_err(|e| format!("not an Alertmanager payload: {e}"))?;
    if payload.version != "4" {
        return Err(format!(
            "unsupported Alertmanager payload version {:?}; Klaxon reads version \"4\"",
            payload.version
        ));
    }
    if payload.alerts.is_empty() {
        return Err("the payload has no alerts".to_owned());
    }
    if payload.alerts.len() > MAX_ALERTS {
        return Err(format!("more than {MAX_ALERTS} alerts in one payload"));
    }
    Ok(payload
        .alerts
        .into_iter()
        .map(|a| {
            let name = a.labels.get("alertname").cloned();
            let summary_annotation = a.annotations.get("summary").cloned();
            let title = match (&name, &summary_annotation) {
                (Some(n), Some(s)) => format!("{n}: {s}"),
                (Some(n), None) => n.clone(),
                (None, Some(s)) => s.clone(),
                (None, None) => "Alert".to_owned(),
            };
            let summary = a
                .annotations
                .get("description")
                .cloned()
                .or_else(|| name.and(summary_annotation));
            let fingerprint = a
                .fingerprint
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| fingerprint_of("alertmanager", &title, &a.labels));
            Alert {
                source: "alertmanager".to_owned(),
                fingerprint,
                status: a.status,
                title: clean(&title, klaxon_commands::values::MAX_TITLE_CHARS),
                summary: summary.map(|s| clean(&s, 1000)),
                severity: None,
                labels: a.labels,
                link: a
                    .generator_url
                    .filter(|u| !u.is_empty())
                    .or_else(|| payload.external_url.clone().filter(|u| !u.is_empty())),
            }
        })
        .collect())
}

/// Reads Klaxon's webhook body: one alert, or an array of them.
pub fn parse_webhook(body: &[u8]) -> Result<Vec<Alert>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let payloads = if value.is_array() {
        serde_json::from_value::<Vec<WebhookPayload>>(value)
    } else {
        serde_json::from_value::<WebhookPayload>(value).map(|p| vec![p])
    }
    .map_err(|e| format!("not a Klaxon alert: {e}"))?;
    if payloads.is_empty() {
        return Err("no alerts".to_owned());
    }
    if payloads.len() > MAX_ALERTS {
        return Err(format!("more than {MAX_ALERTS} alerts in one request"));
    }
    payloads
        .into_iter()
        .map(|p| {
            let title = clean(&p.title, klaxon_commands::values::MAX_TITLE_CHARS);
            if title.is_empty() {
                return Err("`title` is empty".to_owned());
            }
            let source = p
                .source
                .map(|s| clean(&s, 60))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "webhook".to_owned());
            let fingerprint = p
                .fingerprint
                .filter(|f| !f.trim().is_empty())
                .map(|f| clean(&f, 200))
                .unwrap_or_else(|| fingerprint_of(&source, &title, &p.labels));
            Ok(Alert {
                source,
                fingerprint,
                status: p.status.unwrap_or(AlertStatus::Firing),
                title,
                summary: p.summary.map(|s| clean(&s, 1000)).filter(|s| !s.is_empty()),
                severity: p.severity,
                labels: p.labels,
                link: p.link.filter(|l| !l.trim().is_empty()),
            })
        })
        .collect()
}

/// A fingerprint for an alert that came without one: its source, title and labels.
fn fingerprint_of(source: &str, title: &str, labels: &BTreeMap<String, String>) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(source.as_bytes());
    h.update([0]);
    h.update(title.as_bytes());
    for (k, v) in labels {
        h.update([0]);
        h.update(k.as_bytes());
        h.update([b'=']);
        h.update(v.as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

/// Alert text as Klaxon stores it: control, invisible and direction characters
/// ([`klaxon_commands::values::hides_or_reorders`]) become spaces (stripped rather than refused,
/// as for a person's text: nobody can retype a monitoring system's alert, and dropping it would
/// lose the alert), whitespace runs fold, and it is cut to `max` characters. Escaping for a platform is
/// the adapter's job (the text is always shown as `Span::User`).
pub fn clean(text: &str, max: usize) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_control() || klaxon_commands::values::hides_or_reorders(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let folded = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= max {
        folded
    } else {
        let mut cut: String = folded.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

impl AlertsConfig {
    /// Every route names at least one channel, each fully.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (n, route) in self.routes.iter().enumerate() {
            let name = route.name.clone().unwrap_or_else(|| format!("#{}", n + 1));
            anyhow::ensure!(
                !route.targets.is_empty(),
                "alerts.routes {name}: `targets` must name at least one channel"
            );
            for t in &route.targets {
                anyhow::ensure!(
                    !t.workspace.trim().is_empty() && !t.channel.trim().is_empty(),
                    "alerts.routes {name}: every target needs a workspace and a channel"
                );
            }
        }
        anyhow::ensure!(
            !self.severity_label.trim().is_empty(),
            "alerts.severity_label must not be empty"
        );
        Ok(())
    }

    /// The severity an alert maps to under a rule.
    pub fn severity_of(&self, alert: &Alert, route: &Route) -> Severity {
        let lookup = |word: &str| {
            let lower = word.trim().to_ascii_lowercase();
            self.severities
                .get(&lower)
                .copied()
                .or_else(|| Severity::from_word(&lower))
        };
        route
            .severity
            .or_else(|| alert.severity.as_deref().and_then(lookup))
            .or_else(|| {
                alert
                    .labels
                    .get(&self.severity_label)
                    .and_then(|v| lookup(v))
            })
            .unwrap_or(self.default_severity)
    }

    /// The first rule whose labels all match.
    pub fn route_for(&self, alert: &Alert) -> Option<&Route> {
        self.routes.iter().find(|r| {
            r.matchers
                .iter()
                .all(|(k, v)| alert.labels.get(k).is_some_and(|have| have == v))
        })
    }

    /// Routes alerts; a target on a platform this process does not run is skipped with a
    /// warning. Alerts left with no target are counted in `unrouted`.
    pub fn route(
        &self,
        alerts: Vec<Alert>,
        platforms: &BTreeSet<PlatformKind>,
        outcome: &mut Outcome,
    ) -> Vec<Routed> {
        let mut out = Vec::new();
        for alert in alerts {
            let Some(route) = self.route_for(&alert) else {
                tracing::info!(fingerprint = %alert.fingerprint, "no alert route matches; dropped");
                outcome.unrouted += 1;
                continue;
            };
            let targets: Vec<Target> = route
                .targets
                .iter()
                .filter(|t| {
                    let on = platforms.contains(&t.platform);
                    if !on {
                        tracing::warn!(
                            route = route.name.as_deref().unwrap_or("(unnamed)"),
                            platform = %t.platform,
                            "alert route names a platform that is not configured; skipped"
                        );
                    }
                    on
                })
                .cloned()
                .collect();
            if targets.is_empty() {
                outcome.unrouted += 1;
                continue;
            }
            out.push(Routed {
                severity: self.severity_of(&alert, route),
                auto_declare: route.auto_declare,
                targets,
                alert,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_folds_controls_and_cuts() {
        assert_eq!(clean("a\u{202E}b\n\tc  d", 100), "a b c d");
        assert_eq!(
            clean("zero\u{200B}width\u{061C}marks\u{2028}x", 100),
            "zero width marks x"
        );
        assert_eq!(clean("abcdef", 4), "abc…");
    }

    #[test]
    fn severity_from_route_payload_label_or_default() {
        let config = AlertsConfig::default();
        let route = Route {
            name: None,
            matchers: BTreeMap::new(),
            targets: Vec::new(),
            auto_declare: false,
            severity: None,
        };
        let mut alert = Alert {
            source: "x".into(),
            fingerprint: "f".into(),
            status: AlertStatus::Firing,
            title: "t".into(),
            summary: None,
            severity: None,
            labels: BTreeMap::new(),
            link: None,
        };
        assert_eq!(config.severity_of(&alert, &route), Severity::Sev3);
        alert.labels.insert("severity".into(), "Critical".into());
        assert_eq!(config.severity_of(&alert, &route), Severity::Sev1);
        alert.severity = Some("sev2".into());
        assert_eq!(config.severity_of(&alert, &route), Severity::Sev2);
        let fixed = Route {
            severity: Some(Severity::Sev4),
            ..route
        };
        assert_eq!(config.severity_of(&alert, &fixed), Severity::Sev4);
    }

    #[test]
    fn routes_must_name_their_channels() {
        let bad = crate::config::Config::parse("[[alerts.routes]]\ntargets = []\n");
        assert!(format!("{:#}", bad.unwrap_err()).contains("at least one channel"));
        let bad = crate::config::Config::parse(
            "[[alerts.routes]]\ntargets = [{ platform = \"slack\", workspace = \"\", channel = \"C1\" }]\n",
        );
        assert!(bad.is_err());
        let typo = crate::config::Config::parse("[[alerts.routes]]\nmatch = {}\ntarget = []\n");
        assert!(typo.is_err(), "unknown keys are errors");
    }

    #[test]
    fn malformed_payloads_say_why() {
        assert!(
            parse_alertmanager(b"{")
                .unwrap_err()
                .contains("not an Alertmanager payload")
        );
        assert!(
            parse_alertmanager(br#"{"version":"3","alerts":[]}"#)
                .unwrap_err()
                .contains("version")
        );
        assert!(
            parse_webhook(br#"{"title":""}"#)
                .unwrap_err()
                .contains("title")
        );
        assert!(
            parse_webhook(br#"{"titel":"x"}"#)
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
