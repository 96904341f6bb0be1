//! Archiving a resolved incident's channel `archive_after` after resolve (`[slack]`,
//! `[discord]` and per Discord guild), and bringing it back when the incident is reopened.
//!
//! The archive is a reminder row of kind `archive`, set in the resolve's transaction and
//! cancelled in the reopen's, so it survives restarts and fires once: firing queues a last
//! post and the `Archive` call in the outbox in the same transaction as it ends the row. The
//! dispatcher re-checks the incident before it calls the platform (a reopen in between wins)
//! and records `archived_at` with the call's success.

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{Message, Rich};

use crate::config::Config;
use crate::store::outbox::{self, Op, Target};
use crate::store::reminders::Kind;
use crate::store::{self, Incident, timeline::EntryKind};

/// At resolve: the channel is archived `archive_after` from now, where that is configured.
pub async fn on_resolve(
    conn: &mut Conn,
    config: &Config,
    incident: &Incident,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    if let Some(after) = config.archive_after(&incident.tenant) {
        let due = crate::clock::after(now, after.as_std());
        store::reminders::schedule(conn, incident.id, Kind::Archive, 0, due).await?;
    }
    Ok(())
}

/// At reopen: a pending archive is cancelled, and a channel already archived comes back. It
/// answers the sentence the reopen's reply adds, if any.
pub async fn on_reopen(
    conn: &mut Conn,
    incident: &Incident,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<&'static str>> {
    store::reminders::cancel(conn, incident.id, Kind::Archive, None).await?;
    if incident.tenant.platform.archive_is_read_only() {
        // An archived Slack channel takes no commands, so this reopen came from a channel a
        // person unarchived: there is nothing left to bring back.
        if store::incidents::archived_at(conn, incident.id)
            .await?
            .is_some()
        {
            store::incidents::set_archived(conn, incident.id, None).await?;
        }
        return Ok(None);
    }
    // Queued too when the archive fired since this resolve but its call is still pending:
    // calls go in order, and the dispatcher makes this one only if the channel did get
    // archived.
    let archiving = store::reminders::get(conn, incident.id, Kind::Archive, 0)
        .await?
        .and_then(|r| r.last_fired_at)
        .is_some_and(|fired| {
            incident
                .resolved_at
                .is_some_and(|resolved| fired >= resolved)
        });
    if archiving
        || store::incidents::archived_at(conn, incident.id)
            .await?
            .is_some()
    {
        outbox::enqueue(
            conn,
            &incident.tenant,
            Some(incident.id),
            &Op::Unarchive,
            now,
        )
        .await?;
        return Ok(Some("Its channel comes back from the archive."));
    }
    Ok(None)
}

/// Fires an archive reminder: for a resolved incident whose channel exists, a last post and
/// the `Archive` call. Where an archived channel is read-only (Slack), the reminders that
/// would post there end now, and the last post names what is still open. Returns whether
/// anything was queued.
pub async fn fire(
    conn: &mut Conn,
    incident: &Incident,
    reminder: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    store::reminders::fired(conn, reminder, now, None).await?;
    let archived = store::incidents::archived_at(conn, incident.id).await?;
    let (false, Some(resolved_at), Some(_), None) = (
        incident.is_open(),
        incident.resolved_at,
        &incident.channel_id,
        archived,
    ) else {
        return Ok(false);
    };
    let after = crate::engine::render::age(resolved_at, now);
    let mut line = format!(
        "🗄️ Archiving this channel, {after} after {} was resolved.",
        incident.key()
    );
    if incident.tenant.platform.archive_is_read_only() {
        let mut open = Vec::new();
        let (due, done) = store::postmortems::due_and_done(conn, incident.id).await?;
        if due.is_some() && done.is_none() {
            open.push("the postmortem".to_owned());
        }
        let followups: Vec<String> = store::postmortems::followups(conn, incident.id)
            .await?
            .iter()
            .filter(|f| f.done.is_none())
            .map(|f| f.item.to_string())
            .collect();
        if !followups.is_empty() {
            open.push(format!("follow-ups {}", followups.join(", ")));
        }
        store::reminders::cancel(conn, incident.id, Kind::Followup, None).await?;
        store::reminders::cancel(conn, incident.id, Kind::Postmortem, None).await?;
        if !open.is_empty() {
            line.push_str(&format!(
                " Still open: {}; their reminders end with the channel.",
                open.join("; ")
            ));
        }
    }
    let entry = store::timeline::append(
        conn,
        incident.id,
        now,
        &crate::engine::reminders::klaxon(),
        &EntryKind::Archived,
        &format!("Archived the channel, {after} after resolve"),
    )
    .await?;
    let post = Op::Post {
        to: Target::Incident,
        message: Message::new().line(Rich::plain(line)),
        track: None,
        timeline_entry: Some(entry),
    };
    outbox::enqueue(conn, &incident.tenant, Some(incident.id), &post, now).await?;
    outbox::enqueue(conn, &incident.tenant, Some(incident.id), &Op::Archive, now).await?;
    Ok(true)
}
