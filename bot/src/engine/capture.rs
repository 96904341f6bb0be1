//! Messages captured into the timeline by a reaction: marked, unmarked, edited, deleted.
//!
//! Each event is one transaction, like a command, and a redelivered event (same event id) has
//! no effect. The entry shows the message at its own time, by its author; the capture row keeps
//! what it said even when the entry is taken off, edited or deleted.

use klaxon_commands::{ChannelEvent, EventKind, Reply, Rich};

use super::Engine;
use crate::clock::short;
use crate::store::{self, captures, timeline::EntryKind};

impl Engine {
    /// Records one event about a message. `Ok` once committed, or when there is nothing to do
    /// (not an incident channel, a message never captured).
    pub async fn channel_event(&self, event: &ChannelEvent) -> anyhow::Result<()> {
        let mut tx = self.store.begin().await?;
        let delivery = event.event_id.as_ref().map(|id| format!("event:{id}"));
        if let Some(delivery) = &delivery
            && store::deliveries::get(&mut tx, &event.tenant, delivery)
                .await?
                .is_some()
        {
            tracing::info!(%delivery, "duplicate event; already recorded");
            return Ok(());
        }
        let Some(incident) =
            store::incidents::by_channel(&mut tx, &event.tenant, &event.channel_id).await?
        else {
            return Ok(());
        };
        let now = self.clock.now();
        let message_ref = event.message.0.as_str();
        let capture = captures::get(&mut tx, incident.id, message_ref).await?;
        match (&event.kind, capture) {
            (EventKind::Marked { by, message }, None) => {
                let kind = EntryKind::Captured {
                    message_ref: message_ref.to_owned(),
                    permalink: message.permalink.clone(),
                    marked_by: by.id.clone(),
                };
                let entry = store::timeline::append(
                    &mut tx,
                    incident.id,
                    message.at,
                    &message.author,
                    &kind,
                    &message.text,
                )
                .await?;
                let id = captures::insert(
                    &mut tx,
                    incident.id,
                    &event.channel_id,
                    message_ref,
                    message,
                    now,
                    entry,
                )
                .await?;
                captures::mark(&mut tx, id, &by.id).await?;
            }
            (EventKind::Marked { by, .. }, Some(capture)) => {
                captures::mark(&mut tx, capture.id, &by.id).await?;
                if capture.timeline_id.is_none() {
                    // Marked again after every mark was taken off: the entry comes back.
                    let kind = EntryKind::Captured {
                        message_ref: message_ref.to_owned(),
                        permalink: capture.permalink.clone(),
                        marked_by: by.id.clone(),
                    };
                    let entry = store::timeline::append(
                        &mut tx,
                        incident.id,
                        capture.posted_at,
                        &capture.author,
                        &kind,
                        &shown(&capture.text, capture.deleted_at),
                    )
                    .await?;
                    captures::set_timeline(&mut tx, capture.id, Some(entry)).await?;
                }
            }
            (EventKind::Unmarked { by }, Some(capture)) => {
                let left = captures::unmark(&mut tx, capture.id, &by.id).await?;
                if left == 0
                    && let Some(entry) = capture.timeline_id
                {
                    captures::set_timeline(&mut tx, capture.id, None).await?;
                    store::timeline::remove(&mut tx, entry).await?;
                }
            }
            (EventKind::Edited { text, at }, Some(capture)) => {
                captures::edited(&mut tx, capture.id, text, *at).await?;
                if let Some(entry) = capture.timeline_id {
                    store::timeline::set_text(&mut tx, entry, &shown(text, capture.deleted_at))
                        .await?;
                }
            }
            (EventKind::Deleted { at }, Some(capture)) => {
                captures::deleted(&mut tx, capture.id, *at).await?;
                if let Some(entry) = capture.timeline_id {
                    store::timeline::set_text(&mut tx, entry, &shown(&capture.text, Some(*at)))
                        .await?;
                }
            }
            // Unmarking, editing or deleting a message that was never captured (Klaxon's own
            // edited posts, most often): nothing to record, not even the delivery.
            (_, None) => return Ok(()),
        }
        if let Some(delivery) = &delivery {
            let reply = Reply::ok_line(Rich::plain("recorded"));
            store::deliveries::put(&mut tx, &event.tenant, delivery, now, &reply).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The entry's text: the message, and whether it was deleted.
fn shown(text: &str, deleted: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match deleted {
        Some(at) => format!("{text} (message deleted at {})", short(at)),
        None => text.to_owned(),
    }
}
