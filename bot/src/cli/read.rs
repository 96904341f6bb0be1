//! What the reading commands share: an existing database opened, an incident found by number
//! and tenant, and an incident shown as JSON or as a line.

use anyhow::Context as _;
use klaxon_commands::{PlatformKind, Tenant};

use crate::clock::long;
use crate::engine::render::age;
use crate::store::{self, Incident, Store};

use super::TenantArg;

/// Opens a database that must already exist (reading commands never create one).
pub(super) async fn existing(db: &str) -> anyhow::Result<Store> {
    anyhow::ensure!(
        is_there(db),
        "no database at {db} (run an incident first, or pass --db)"
    );
    let store = Store::connect(db).await?;
    store.migrate().await?;
    Ok(store)
}

/// Whether there is a database at `db` (a path or a `sqlite:` URL) to read; a PostgreSQL
/// server is asked when connecting.
pub(super) fn is_there(db: &str) -> bool {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return true;
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    let path = path.split('?').next().unwrap_or(path);
    std::path::Path::new(path).exists() || path == ":memory:"
}

/// Finds incident `number` (`7` or `INC-7`), in `--tenant` or the only tenant that has it.
pub(super) async fn find(
    conn: &mut crate::store::Conn,
    number: &str,
    tenant: &TenantArg,
) -> anyhow::Result<Incident> {
    let digits = number
        .strip_prefix("INC-")
        .or_else(|| number.strip_prefix("inc-"))
        .unwrap_or(number);
    let n: i64 = digits
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("{number:?} is not an incident number (like 7 or INC-7)"))?;
    if let Some(t) = &tenant.tenant {
        let (platform, workspace) = t
            .split_once(':')
            .and_then(|(p, w)| PlatformKind::parse(p).map(|p| (p, w)))
            .with_context(|| {
                format!("{t:?} is not a tenant (like console:local or slack:T0123)")
            })?;
        let tenant = Tenant::new(platform, workspace);
        return store::incidents::by_number(conn, &tenant, n)
            .await?
            .with_context(|| format!("no INC-{n} in {tenant}"));
    }
    let mut found = store::incidents::by_number_any_tenant(conn, n).await?;
    match found.len() {
        0 => anyhow::bail!("no INC-{n} in this database"),
        1 => Ok(found.remove(0)),
        _ => {
            let tenants: Vec<String> = found.iter().map(|i| i.tenant.to_string()).collect();
            anyhow::bail!(
                "INC-{n} exists in several workspaces ({}); pick one with --tenant",
                tenants.join(", ")
            )
        }
    }
}

pub(super) fn incident_json(i: &Incident) -> serde_json::Value {
    serde_json::json!({
        "tenant": i.tenant.to_string(),
        "number": i.number,
        "key": i.key(),
        "title": i.title,
        "severity": i.severity,
        "status": i.status,
        "declared_by": i.declared_by,
        "declared_at": i.declared_at,
        "acknowledged_by": i.acknowledged.as_ref().map(|(u, _)| u),
        "acknowledged_at": i.acknowledged.as_ref().map(|(_, t)| t),
        "resolved_at": i.resolved_at,
        "resolution": i.resolution,
        "last_update": i.last_update.as_ref().map(|(_, t)| t),
        "last_update_at": i.last_update.as_ref().map(|(a, _)| a),
        "channel": { "id": i.channel_id, "name": i.channel_name },
    })
}

pub(super) fn print_incident(
    out: &mut String,
    i: &Incident,
    roles: &[(klaxon_commands::Role, klaxon_commands::UserRef)],
) -> std::fmt::Result {
    use std::fmt::Write as _;
    writeln!(
        out,
        "{} · {} · {} · {}",
        i.key(),
        i.severity,
        i.status,
        i.title
    )?;
    writeln!(out, "Workspace:    {}", i.tenant)?;
    writeln!(out, "Channel:      #{}", i.channel_name)?;
    writeln!(
        out,
        "Declared:     {} by @{}",
        long(i.declared_at),
        i.declared_by.label()
    )?;
    match &i.acknowledged {
        Some((u, at)) => writeln!(out, "Acknowledged: {} by @{}", long(*at), u.label())?,
        None => writeln!(out, "Acknowledged: not yet")?,
    }
    if let Some(at) = i.resolved_at {
        writeln!(
            out,
            "Resolved:     {} (after {})",
            long(at),
            age(i.declared_at, at)
        )?;
    }
    if let Some(r) = &i.resolution {
        writeln!(out, "Resolution:   {r}")?;
    }
    for (role, user) in roles {
        writeln!(out, "{:<13} @{}", format!("{role}:"), user.label())?;
    }
    if let Some((at, text)) = &i.last_update {
        writeln!(out, "Last update:  {} — {text}", long(*at))?;
    }
    Ok(())
}
