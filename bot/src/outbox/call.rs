//! One call's attempt: what each [`Op`] asks of the platform, and what its success records.

use crate::store::Conn;
use chrono::Utc;
use klaxon_commands::naming;
use klaxon_commands::{
    ApiError, ChannelRef, ChatApi, Message, NewChannel, Once, Rich, Span, Tenant, Unfinished,
    Upload,
};

use super::{Dispatcher, Failure, MAX_NAME_TRIES, Op, Target, enqueue};
use crate::store::posts::PostKind;
use crate::store::{self, Incident};

impl Dispatcher {
    /// Makes the call (of `incident`, as read when it was claimed) and records its success;
    /// `Ok(true)` when that queued other calls.
    pub(super) async fn attempt(
        &self,
        call: &store::outbox::Pending,
        incident: Option<Incident>,
    ) -> Result<bool, Failure> {
        let api = self
            .apis
            .get(&call.tenant.platform)
            .ok_or_else(|| Failure::Impossible("platform not configured".into()))?;
        let now = Utc::now();
        match call.op.clone() {
            Op::CreateChannel {
                private,
                topic,
                invite,
            } => {
                let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
                if let Some(id) = &incident.channel_id {
                    // Already created: a repeat after a crash must not open a second channel.
                    tracing::debug!(channel = %id, "channel already exists");
                } else {
                    let topic = self.resolve_rich(&call.tenant, topic).await?;
                    let mut request = NewChannel {
                        workspace: call.tenant.workspace.clone(),
                        name: String::new(),
                        private,
                        topic,
                        invite,
                        key: once(call).key,
                    };
                    let channel = self
                        .create_channel(api.as_ref(), call, &incident, &mut request)
                        .await?;
                    // After the creation's turn at its bucket: the next incident's channel
                    // need not wait for this one's topic and invitations.
                    let unfinished = tokio::time::timeout(
                        self.call_timeout,
                        api.set_up_channel(&channel, &request),
                    )
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!(channel = %channel.name, "setting up the new channel took longer than the call timeout; queued to try again");
                        Unfinished::all(&request)
                    });
                    let mut tx = self.store.begin().await?;
                    store::incidents::set_channel(&mut tx, incident.id, &channel).await?;
                    let queued = queue_unfinished(
                        &mut tx,
                        call,
                        incident.id,
                        unfinished,
                        request.topic,
                        now,
                    )
                    .await?;
                    store::outbox::mark_done(&mut tx, call.id, now).await?;
                    tx.commit().await?;
                    return Ok(queued);
                }
            }
            Op::Invite { users } => {
                let channel = incident_channel(incident.as_ref())?;
                self.send(call, api.invite(&channel, &users)).await?;
            }
            Op::SetTopic { topic } => {
                let channel = incident_channel(incident.as_ref())?;
                let topic = self.resolve_rich(&call.tenant, topic).await?;
                self.send(call, api.set_topic(&channel, &topic)).await?;
            }
            Op::Post {
                to,
                message,
                track,
                timeline_entry,
            } => {
                let shared = matches!(to, Target::Channel(_));
                let channel = match to {
                    Target::Incident => incident_channel(incident.as_ref())?,
                    Target::Channel(c) => c,
                    // Opened at call time: asking again answers the same channel, so a retry
                    // opens nothing twice, and the post below keeps its `Once` key.
                    Target::Person(user) => self.timed(api.open_direct(&user)).await?,
                };
                // An announcement made before its incident's channel exists names the
                // channel without a link; an edit follows once the channel is made.
                let original =
                    (shared && track == Some(PostKind::Announcement)).then(|| message.clone());
                let message = self.resolve_message(&call.tenant, message).await?;
                let once = self.start(call).await?;
                let posted = self.send(call, api.post(&channel, &message, &once)).await?;
                let mut tx = self.store.begin().await?;
                let mut queued = false;
                if let (Some(original), Some(incident)) = (original, incident.as_ref())
                    && unresolved(&message)
                    && !store::outbox::has_pending(&mut tx, incident.id, "edit:announcement")
                        .await?
                {
                    let edit = Op::Edit {
                        kind: PostKind::Announcement,
                        message: original,
                    };
                    enqueue(&mut tx, &call.tenant, Some(incident.id), &edit, now).await?;
                    queued = true;
                }
                if let (Some(kind), Some(incident)) = (track, incident.as_ref()) {
                    // The channel id the platform answered with: later edits and pins use it.
                    store::posts::put(
                        &mut tx,
                        incident.id,
                        kind,
                        &posted.channel_id,
                        &posted.message,
                    )
                    .await?;
                }
                if let Some(entry) = timeline_entry {
                    store::timeline::set_message_ref(&mut tx, entry, &posted.message.0).await?;
                }
                store::outbox::mark_done(&mut tx, call.id, now).await?;
                tx.commit().await?;
                return Ok(queued);
            }
            Op::Pin { kind } => {
                let (channel, message) = self.tracked(incident.as_ref(), kind).await?;
                self.send(call, api.pin(&channel, &message)).await?;
            }
            Op::UploadPostmortem { version, comment } => {
                let channel = incident_channel(incident.as_ref())?;
                let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
                let draft = {
                    let mut conn = self.store.read().await?;
                    store::postmortems::get(&mut conn, incident.id, Some(version)).await?
                }
                .ok_or_else(|| Failure::Impossible(format!("no postmortem version {version}")))?;
                let comment = self.resolve_message(&call.tenant, comment).await?;
                let upload = Upload {
                    filename: format!("{}-postmortem-v{version}.md", incident.key()),
                    title: format!("{} postmortem draft v{version}", incident.key()),
                    content: draft.markdown,
                    comment,
                };
                self.send(call, api.upload(&channel, &upload)).await?;
            }
            Op::PostAlert {
                alert,
                channel,
                message,
            } => {
                let message = self.resolve_message(&call.tenant, message).await?;
                let once = self.start(call).await?;
                let posted = self.send(call, api.post(&channel, &message, &once)).await?;
                let mut tx = self.store.begin().await?;
                store::alerts::set_message(&mut tx, alert, &posted.message).await?;
                store::outbox::mark_done(&mut tx, call.id, now).await?;
                tx.commit().await?;
                return Ok(false);
            }
            Op::EditAlert { alert, message } => {
                let row = {
                    let mut conn = self.store.read().await?;
                    store::alerts::get(&mut conn, alert).await?
                };
                let (channel, target) = row
                    .and_then(|a| a.message_ref.map(|m| (a.channel_id, m)))
                    .ok_or_else(|| {
                        Failure::Impossible(format!(
                            "alert {alert}'s announcement was never posted"
                        ))
                    })?;
                let message = self.resolve_message(&call.tenant, message).await?;
                let channel = ChannelRef::new(channel.clone(), channel);
                self.send(call, api.edit(&channel, &target, &message))
                    .await?;
            }
            Op::Edit { kind, message } => {
                let (channel, target) = self.tracked(incident.as_ref(), kind).await?;
                let message = self.resolve_message(&call.tenant, message).await?;
                self.send(call, api.edit(&channel, &target, &message))
                    .await?;
            }
            Op::Archive | Op::Unarchive => {
                let channel = incident_channel(incident.as_ref())?;
                let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
                let archive = call.op == Op::Archive;
                let archived = {
                    let mut conn = self.store.read().await?;
                    store::incidents::archived_at(&mut conn, incident.id).await?
                };
                // Reopened before the archive was made, or never archived: nothing to do.
                let wanted = if archive {
                    !incident.is_open() && archived.is_none()
                } else {
                    archived.is_some()
                };
                if wanted {
                    if archive {
                        self.send(call, api.archive(&channel)).await?;
                    } else {
                        self.send(call, api.unarchive(&channel)).await?;
                    }
                }
                let mut tx = self.store.begin().await?;
                if wanted {
                    let at = archive.then_some(now);
                    store::incidents::set_archived(&mut tx, incident.id, at).await?;
                }
                store::outbox::mark_done(&mut tx, call.id, now).await?;
                tx.commit().await?;
                return Ok(false);
            }
            // Recorded as failed for good, with the reason, by the writer.
            Op::Unreadable { reason } => return Err(Failure::Impossible(reason)),
        }
        let mut tx = self.store.begin().await?;
        store::outbox::mark_done(&mut tx, call.id, now).await?;
        tx.commit().await?;
        Ok(false)
    }

    /// A post to a shared channel (the paging channel) failed because the channel does not
    /// exist for Klaxon: the incident's channel is told, naming whoever declared, with the fix.
    pub(super) async fn tell_declarer(
        &self,
        conn: &mut Conn,
        call: &store::outbox::Pending,
        reason: &str,
    ) -> anyhow::Result<bool> {
        let (
            Some(incident_id),
            Op::Post {
                to: Target::Channel(channel),
                ..
            },
        ) = (call.incident_id, &call.op)
        else {
            return Ok(false);
        };
        let Some(incident) = store::incidents::get(conn, incident_id).await? else {
            return Ok(false);
        };
        let line = Rich::new()
            .ping(&incident.declared_by)
            .text(" ⚠️ Klaxon could not post in ")
            .channel(channel)
            .text(format!(
                " ({reason}): the channel does not exist for Klaxon. If it is private, invite Klaxon to it; otherwise check incidents.paging_channel."
            ));
        let notice = Op::Post {
            to: Target::Incident,
            message: Message::new().line(line),
            track: None,
            timeline_entry: None,
        };
        enqueue(conn, &call.tenant, Some(incident_id), &notice, Utc::now()).await?;
        Ok(true)
    }

    /// Records that a post is being made, and says how to make it once (see [`once`]).
    ///
    /// On SQLite nothing is written: one process makes the calls (the file's lock), so a post
    /// may have been started before only if an earlier process could have (it was queued
    /// before this one opened the database) or this one tried it already (an attempt failed
    /// or timed out). Either makes it a retry, which looks for the post before making it. On
    /// PostgreSQL, where another replica may take a call over, the start is committed first.
    async fn start(&self, call: &store::outbox::Pending) -> anyhow::Result<Once> {
        if self.store.backend() == store::Backend::Sqlite {
            let mut once = once(call);
            once.retry |= call.attempts > 0 || self.store.predates_this_process(call.id);
            return Ok(once);
        }
        if call.started_at.is_none() {
            let mut tx = self.store.begin().await?;
            store::outbox::mark_started(&mut tx, call.id, Utc::now()).await?;
            tx.commit().await?;
        }
        Ok(once(call))
    }

    /// Creates the incident's channel under the first free name: the planned one, then the
    /// next suffixes that neither the platform (`name_taken`) nor another incident holds.
    /// Each name is claimed before the platform is asked; a retry first looks for a channel an
    /// earlier, interrupted attempt made under a claimed name, and adopts it.
    async fn create_channel(
        &self,
        api: &dyn ChatApi,
        call: &store::outbox::Pending,
        incident: &Incident,
        request: &mut NewChannel,
    ) -> Result<ChannelRef, Failure> {
        let claimed = {
            let mut conn = self.store.read().await?;
            store::outbox::channel_attempts(&mut conn, call.id).await?
        };
        for attempt in claimed {
            request.name = attempt.name;
            if let Some(made) = self.timed(api.adopt_created(request, attempt.at)).await? {
                tracing::info!(name = %made.name, "adopting the channel an interrupted attempt made");
                return Ok(made);
            }
        }
        let limit = incident.tenant.platform.channel_name_limit();
        for n in 1..=MAX_NAME_TRIES {
            let candidate = naming::with_suffix(&incident.channel_base, n, limit);
            let mut conn = self.store.read().await?;
            let ours = store::incidents::channel_name_used(
                &mut conn,
                &incident.tenant,
                &candidate,
                Some(incident.id),
            )
            .await?;
            drop(conn);
            if ours {
                continue;
            }
            request.name = candidate;
            let mut tx = self.store.begin().await?;
            store::outbox::claim_channel(&mut tx, call.id, incident.id, &request.name, Utc::now())
                .await?;
            tx.commit().await?;
            match self.send(call, api.create_channel(request)).await {
                Err(Failure::Api(ApiError::NameTaken)) => {
                    // Someone else's channel: never one to adopt.
                    let mut tx = self.store.begin().await?;
                    store::outbox::release_channel(&mut tx, call.id, &request.name).await?;
                    tx.commit().await?;
                    tracing::info!(name = %request.name, "channel name taken; trying the next suffix");
                }
                // Never asked for: a retry has nothing to adopt under this name.
                Err(Failure::NotSent) => {
                    let mut tx = self.store.begin().await?;
                    store::outbox::release_channel(&mut tx, call.id, &request.name).await?;
                    tx.commit().await?;
                    return Err(Failure::NotSent);
                }
                other => return other,
            }
        }
        Err(Failure::Impossible(format!(
            "no free channel name after {MAX_NAME_TRIES} tries from {}",
            incident.channel_base
        )))
    }

    async fn tracked(
        &self,
        incident: Option<&Incident>,
        kind: PostKind,
    ) -> Result<(ChannelRef, klaxon_commands::MessageRef), Failure> {
        let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
        let mut conn = self.store.read().await?;
        let (channel_id, message) = store::posts::get(&mut conn, incident.id, kind)
            .await?
            .ok_or_else(|| {
                Failure::Impossible(format!("the {} was never posted", kind.as_str()))
            })?;
        let name = if Some(&channel_id) == incident.channel_id.as_ref() {
            incident.channel_name.clone()
        } else {
            channel_id.clone()
        };
        Ok((ChannelRef::new(channel_id, name), message))
    }

    /// Fills in the ids of incident channels that did not exist when the text was written.
    async fn resolve_rich(&self, tenant: &Tenant, mut rich: Rich) -> anyhow::Result<Rich> {
        for span in &mut rich.0 {
            if let Span::Channel(channel) = span
                && channel.id.is_none()
            {
                let mut conn = self.store.read().await?;
                if let Some(incident) =
                    store::incidents::by_planned_channel(&mut conn, tenant, &channel.name).await?
                {
                    *channel = incident.channel();
                }
            }
        }
        Ok(rich)
    }

    async fn resolve_message(
        &self,
        tenant: &Tenant,
        mut message: Message,
    ) -> anyhow::Result<Message> {
        let mut lines = Vec::with_capacity(message.lines.len());
        for line in message.lines {
            lines.push(self.resolve_rich(tenant, line).await?);
        }
        message.lines = lines;
        for field in &mut message.fields {
            field.value = self
                .resolve_rich(tenant, std::mem::take(&mut field.value))
                .await?;
        }
        Ok(message)
    }
}

/// How to make `call` once: its key names the outbox row and, in four base-36 digits, the
/// millisecond it was queued (so that a fresh database's row 1 is not taken for an old one's
/// within Discord's nonce window); `retry` when an earlier attempt was started.
pub(super) fn once(call: &store::outbox::Pending) -> Once {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut ms = call.created_at.timestamp_millis().rem_euclid(36_i64.pow(4));
    let mut stamp = [b'0'; 4];
    for digit in stamp.iter_mut().rev() {
        *digit = DIGITS[usize::try_from(ms % 36).unwrap_or(0)];
        ms /= 36;
    }
    Once {
        key: format!("klaxon-{}-{}", call.id, String::from_utf8_lossy(&stamp)),
        retry: call.started_at.is_some(),
    }
}

/// Queues what a new channel's set-up left undone as calls of their own: the topic (unless
/// a newer one is already queued, which it would replace) and the people. `true` when it
/// queued any.
async fn queue_unfinished(
    tx: &mut Conn,
    call: &store::outbox::Pending,
    incident: i64,
    unfinished: Unfinished,
    topic: Rich,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<bool> {
    let mut queued = false;
    if unfinished.topic {
        let set_topic = Op::SetTopic { topic };
        let newer = match set_topic.coalesce_key() {
            Some(key) => store::outbox::has_pending(tx, incident, &key).await?,
            None => false,
        };
        if !newer {
            enqueue(tx, &call.tenant, Some(incident), &set_topic, now).await?;
            queued = true;
        }
    }
    if !unfinished.invite.is_empty() {
        let users = unfinished.invite;
        enqueue(tx, &call.tenant, Some(incident), &Op::Invite { users }, now).await?;
        queued = true;
    }
    Ok(queued)
}

fn incident_channel(incident: Option<&Incident>) -> Result<ChannelRef, Failure> {
    let incident = incident.ok_or_else(|| Failure::Impossible("no incident".into()))?;
    if incident.channel_id.is_none() {
        return Err(Failure::Impossible(format!(
            "{} has no channel (creating it failed)",
            incident.key()
        )));
    }
    Ok(incident.channel())
}

/// Whether a message names a channel that does not exist yet (a planned incident channel).
fn unresolved(message: &Message) -> bool {
    message
        .lines
        .iter()
        .chain(message.fields.iter().map(|f| &f.value))
        .any(|rich| {
            rich.0
                .iter()
                .any(|span| matches!(span, Span::Channel(c) if c.id.is_none()))
        })
}
