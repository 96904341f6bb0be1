//! `klaxon report [--since 30d] [--json]`: the figures of `/insights` on the command line: MTTA
//! and MTTR by severity, overall and per week (weeks start on Monday, UTC), and the follow-ups
//! and postmortems that are overdue.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use klaxon_commands::Severity;
use klaxon_commands::values::human_secs;
use serde::Serialize;

use crate::clock::long;
use crate::store::Store;
use crate::store::pages::{self, Figures, Means};

#[derive(Serialize)]
struct Group {
    severity: String,
    declared: usize,
    mtta_seconds: Option<f64>,
    mttr_seconds: Option<f64>,
}

#[derive(Serialize)]
struct Week {
    week: String,
    by_severity: Vec<Group>,
}

#[derive(Serialize)]
struct Overdue {
    incident: String,
    /// `slack:T123`: incident numbers repeat across workspaces.
    workspace: String,
    what: String,
    owner: Option<String>,
    due: String,
}

#[derive(Serialize)]
struct Report {
    since: String,
    now: String,
    by_severity: Vec<Group>,
    weeks: Vec<Week>,
    overdue_followups: Vec<Overdue>,
    overdue_postmortems: Vec<Overdue>,
}

fn group(severity: Severity, m: Means) -> Group {
    Group {
        severity: severity.to_string(),
        declared: m.declared,
        mtta_seconds: m.mtta.map(|s| s.round()),
        mttr_seconds: m.mttr.map(|s| s.round()),
    }
}

fn mean(secs: Option<f64>) -> String {
    secs.map_or_else(|| "—".to_owned(), |s| human_secs(s.max(0.0) as u64))
}

/// Writes the report of incidents declared from `since` to `now`.
pub async fn write(
    store: &Store,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    json: bool,
    out: &mut String,
) -> anyhow::Result<()> {
    let mut conn = store.read().await?;
    let timings = pages::timings(&mut conn, None, Some(since)).await?;
    let followups = pages::overdue_followups(&mut conn, None, now.date_naive()).await?;
    let postmortems = pages::overdue_postmortems(&mut conn, None, now).await?;
    let many_tenants = pages::tenant_count(&mut conn).await? > 1;
    drop(conn);
    let figures = Figures::of(&timings);
    let report = Report {
        since: long(since),
        now: long(now),
        by_severity: figures
            .by_severity
            .iter()
            .map(|(s, m)| group(*s, *m))
            .collect(),
        weeks: figures
            .weeks
            .iter()
            .map(|(week, row)| Week {
                week: week.format("%Y-%m-%d").to_string(),
                by_severity: row.iter().map(|(s, m)| group(*s, *m)).collect(),
            })
            .collect(),
        overdue_followups: followups
            .iter()
            .map(|f| Overdue {
                incident: format!("INC-{}", f.number),
                workspace: f.tenant.to_string(),
                what: format!("{}. {}", f.item, f.text),
                owner: f.owner.as_ref().map(|o| format!("@{}", o.label())),
                due: f.due.format("%Y-%m-%d").to_string(),
            })
            .collect(),
        overdue_postmortems: postmortems
            .iter()
            .map(|p| Overdue {
                incident: format!("INC-{}", p.number),
                workspace: p.tenant.to_string(),
                what: p.title.clone(),
                owner: None,
                due: long(p.due),
            })
            .collect(),
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "Incidents declared from {} to {}",
        report.since, report.now
    )?;
    writeln!(
        out,
        "{:<9}{:>9}  {:<9}{:<9}",
        "severity", "declared", "MTTA", "MTTR"
    )?;
    for (s, m) in &figures.by_severity {
        writeln!(
            out,
            "{:<9}{:>9}  {:<9}{:<9}",
            s.to_string(),
            m.declared,
            mean(m.mtta),
            mean(m.mttr)
        )?;
    }
    if !figures.weeks.is_empty() {
        writeln!(out, "\nBy week (starting Monday, UTC)")?;
        for (week, row) in &figures.weeks {
            for (s, m) in row {
                writeln!(
                    out,
                    "{}  {:<6}{:>4}  MTTA {:<8} MTTR {}",
                    week.format("%Y-%m-%d"),
                    s.to_string(),
                    m.declared,
                    mean(m.mtta),
                    mean(m.mttr)
                )?;
            }
        }
    }
    writeln!(
        out,
        "\nOverdue follow-ups: {}",
        report.overdue_followups.len()
    )?;
    // With several workspaces, numbers repeat: each row names its workspace.
    let key = |o: &Overdue| {
        if many_tenants {
            format!("{} ({})", o.incident, o.workspace)
        } else {
            o.incident.clone()
        }
    };
    for f in &report.overdue_followups {
        let owner = f.owner.as_deref().unwrap_or("no owner");
        writeln!(out, "  {} {} · {owner} · due {}", key(f), f.what, f.due)?;
    }
    writeln!(
        out,
        "Overdue postmortems: {}",
        report.overdue_postmortems.len()
    )?;
    for p in &report.overdue_postmortems {
        writeln!(out, "  {} {} · due {}", key(p), p.what, p.due)?;
    }
    Ok(())
}
