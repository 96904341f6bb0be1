//! Timeline entries: every command and state change of an incident, in order.
//!
//! What an entry records is an [`EntryKind`], with the data some kinds carry. It is stored as
//! its word in `timeline.kind` and that data as JSON in `timeline.data`, and decoded once here:
//! no reader matches on the word or re-parses the JSON.

use std::collections::BTreeMap;

use crate::store::Conn;
use chrono::{DateTime, Utc};
use klaxon_commands::{Severity, Status, UserRef};
use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::{from_db, to_db};

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: UserRef,
    /// What happened, with its data.
    pub kind: EntryKind,
    pub text: String,
    /// The platform's reference of the message this entry was posted as, once posted.
    pub message_ref: Option<String>,
}

/// What a timeline entry records. The word each kind is stored as is [`EntryKind::word`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// `declared`, at this severity.
    Declared {
        severity: Severity,
    },
    /// `acknowledged`.
    Acknowledged,
    /// `severity`: a change of severity.
    Severity {
        from: Severity,
        to: Severity,
    },
    /// `status`: a change of status.
    Status {
        from: Status,
        to: Status,
    },
    Update,
    Note,
    Impact,
    RootCause,
    Lesson,
    /// `role`: a role given (`/inc role`, `/inc lead`).
    Role,
    Resolved,
    Reopened,
    /// `escalated`: the next tier was paged. Its data is the page as `engine::reminders`
    /// writes it (`tier`, who was `paged`: a mention or a schedule layer's person, the layers
    /// with `nobody_on_call`), still JSON: nothing reads it back yet.
    Escalated {
        data: Option<Value>,
    },
    /// `reminder`: a reminder fired.
    Reminder,
    /// `nudge`: a nudge about a quiet incident fired.
    Nudge,
    /// `check` and `uncheck`: a checklist item ticked or unticked.
    Check,
    Uncheck,
    /// `remind`: a reminder someone set.
    Remind,
    /// `ref`: a correlation id.
    Ref,
    Followup,
    Handoff,
    Postmortem,
    /// `action`: a runbook action requested, refused, confirmed, sent or cut off.
    Action,
    /// `decision`: an answer in a runbook's decision tree.
    Decision,
    /// `runbook`: a runbook started.
    Runbook,
    /// `archived`: the channel was archived.
    Archived,
    /// `alert`: an alert followed onto the incident.
    Alert,
    /// `detected`: the alert the incident was declared from.
    Detected {
        source: String,
        fingerprint: String,
        labels: BTreeMap<String, String>,
        link: Option<String>,
    },
    /// `paged`: at declare (`--oncall`), the person on call for a schedule layer was invited
    /// and pinged, or nobody was on call (`person` is `None`).
    Paged {
        oncall: String,
        person: Option<String>,
        covering: bool,
    },
    /// `captured`: a message marked for the timeline.
    Captured {
        message_ref: String,
        permalink: Option<String>,
        marked_by: String,
    },
    /// A word this version does not know, or a known word whose data does not read, kept as
    /// stored.
    Other {
        kind: String,
        data: Option<Value>,
    },
}

/// The kinds with no data, by word.
const PLAIN: &[(&str, EntryKind)] = &[
    ("acknowledged", EntryKind::Acknowledged),
    ("update", EntryKind::Update),
    ("note", EntryKind::Note),
    ("impact", EntryKind::Impact),
    ("rootcause", EntryKind::RootCause),
    ("lesson", EntryKind::Lesson),
    ("role", EntryKind::Role),
    ("resolved", EntryKind::Resolved),
    ("reopened", EntryKind::Reopened),
    ("reminder", EntryKind::Reminder),
    ("nudge", EntryKind::Nudge),
    ("check", EntryKind::Check),
    ("uncheck", EntryKind::Uncheck),
    ("remind", EntryKind::Remind),
    ("ref", EntryKind::Ref),
    ("followup", EntryKind::Followup),
    ("handoff", EntryKind::Handoff),
    ("postmortem", EntryKind::Postmortem),
    ("action", EntryKind::Action),
    ("decision", EntryKind::Decision),
    ("runbook", EntryKind::Runbook),
    ("archived", EntryKind::Archived),
    ("alert", EntryKind::Alert),
];

impl EntryKind {
    /// The word stored in `timeline.kind` and shown by `/inc timeline` and the CLI.
    pub fn word(&self) -> &str {
        match self {
            Self::Declared { .. } => "declared",
            Self::Severity { .. } => "severity",
            Self::Status { .. } => "status",
            Self::Detected { .. } => "detected",
            Self::Captured { .. } => "captured",
            Self::Escalated { .. } => "escalated",
            Self::Paged { .. } => "paged",
            Self::Other { kind, .. } => kind,
            plain => PLAIN
                .iter()
                .find(|(_, k)| k == plain)
                .map_or("other", |(w, _)| w),
        }
    }

    /// The JSON stored in `timeline.data`, for the kinds that carry data.
    fn data(&self) -> Option<Value> {
        match self {
            Self::Declared { severity } => Some(json!({ "severity": severity.to_string() })),
            Self::Severity { from, to } => {
                Some(json!({ "from": from.to_string(), "to": to.to_string() }))
            }
            Self::Status { from, to } => Some(json!({ "from": from.as_str(), "to": to.as_str() })),
            Self::Detected {
                source,
                fingerprint,
                labels,
                link,
            } => Some(json!({
                "source": source,
                "fingerprint": fingerprint,
                "labels": labels,
                "link": link,
            })),
            Self::Paged {
                oncall,
                person: Some(person),
                covering,
            } => Some(json!({ "oncall": oncall, "person": person, "covering": covering })),
            Self::Paged {
                oncall,
                person: None,
                ..
            } => Some(json!({ "oncall": oncall, "person": null })),
            Self::Captured {
                message_ref,
                permalink,
                marked_by,
            } => Some(json!({
                "message_ref": message_ref,
                "permalink": permalink,
                "marked_by": marked_by,
            })),
            Self::Other { data, .. } | Self::Escalated { data } => data.clone(),
            _ => None,
        }
    }

    /// The kind a stored word and its data stand for.
    fn decode(word: String, data: Option<Value>) -> Self {
        let read = || -> Option<Self> {
            let d = data.as_ref();
            let text = |key: &str| d?.get(key)?.as_str().map(str::to_owned);
            let severity = |key: &str| Severity::from_word(d?.get(key)?.as_str()?);
            let status = |key: &str| Status::parse(d?.get(key)?.as_str()?).ok();
            Some(match word.as_str() {
                "declared" => Self::Declared {
                    severity: severity("severity")?,
                },
                "severity" => Self::Severity {
                    from: severity("from")?,
                    to: severity("to")?,
                },
                "status" => Self::Status {
                    from: status("from")?,
                    to: status("to")?,
                },
                "detected" => Self::Detected {
                    source: text("source")?,
                    fingerprint: text("fingerprint")?,
                    labels: serde_json::from_value(d?.get("labels")?.clone()).ok()?,
                    link: text("link"),
                },
                "escalated" => Self::Escalated { data: data.clone() },
                "paged" => Self::Paged {
                    oncall: text("oncall")?,
                    person: text("person"),
                    covering: d?.get("covering").and_then(Value::as_bool) == Some(true),
                },
                "captured" => Self::Captured {
                    message_ref: text("message_ref")?,
                    permalink: text("permalink"),
                    marked_by: text("marked_by")?,
                },
                other => PLAIN
                    .iter()
                    .find(|(w, _)| *w == other)
                    .map(|(_, k)| k.clone())?,
            })
        };
        read().unwrap_or(Self::Other { kind: word, data })
    }
}

/// An entry as the CLI's `--json` and the postmortem show it: the kind's word, and its data.
impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            id: i64,
            at: DateTime<Utc>,
            actor: &'a UserRef,
            kind: &'a str,
            text: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            message_ref: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<Value>,
        }
        Shown {
            id: self.id,
            at: self.at,
            actor: &self.actor,
            kind: self.kind.word(),
            text: &self.text,
            message_ref: self.message_ref.as_deref(),
            data: self.kind.data(),
        }
        .serialize(serializer)
    }
}

/// Appends an entry; its kind's data (a severity change's `{"from":"SEV2","to":"SEV1"}`) is
/// stored beside it.
pub async fn append(
    conn: &mut Conn,
    incident_id: i64,
    at: DateTime<Utc>,
    actor: &UserRef,
    kind: &EntryKind,
    text: &str,
) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO timeline (incident_id, at, actor_id, actor_name, kind, text, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(incident_id)
    .bind(to_db(at))
    .bind(&actor.id)
    .bind(&actor.name)
    .bind(kind.word())
    .bind(text)
    .bind(kind.data().map(|d| d.to_string()))
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// [`append`] for many incidents at once, one entry each (`(incident, text)`, all at `at`, by
/// `actor`, of `kind`), a statement per [`MOST`](crate::store::batch::MOST) values. Returns
/// the entries' ids in `entries`' order.
pub async fn append_each(
    conn: &mut Conn,
    at: DateTime<Utc>,
    actor: &UserRef,
    kind: &EntryKind,
    entries: &[(i64, String)],
) -> anyhow::Result<Vec<i64>> {
    const WIDTH: usize = 7;
    let (at, data) = (to_db(at), kind.data().map(|d| d.to_string()));
    let mut ids = std::collections::HashMap::with_capacity(entries.len());
    for part in entries.chunks(crate::store::batch::rows_per_statement(WIDTH)) {
        let sql = format!(
            "INSERT INTO timeline (incident_id, at, actor_id, actor_name, kind, text, data) \
             VALUES {} RETURNING id, incident_id",
            crate::store::batch::rows(1, WIDTH, part.len())
        );
        let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
        for (incident, text) in part {
            query = query
                .bind(*incident)
                .bind(at.clone())
                .bind(&actor.id)
                .bind(&actor.name)
                .bind(kind.word())
                .bind(text)
                .bind(data.clone());
        }
        // RETURNING's row order is not promised: match each id to its incident.
        let rows = query.fetch_all(&mut *conn).await?;
        ids.extend(rows.into_iter().map(|(id, incident)| (incident, id)));
    }
    anyhow::ensure!(
        ids.len() == entries.len(),
        "append_each takes one entry per incident"
    );
    entries
        .iter()
        .map(|(incident, _)| {
            ids.get(incident).copied().ok_or_else(|| {
                anyhow::anyhow!("no timeline entry came back for incident {incident}")
            })
        })
        .collect()
}

type Row = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn entry(
    (id, at, actor_id, actor_name, kind, text, message_ref, data): Row,
) -> anyhow::Result<Entry> {
    Ok(Entry {
        id,
        at: from_db(&at)?,
        actor: UserRef {
            id: actor_id,
            name: actor_name,
        },
        kind: EntryKind::decode(kind, data.as_deref().map(serde_json::from_str).transpose()?),
        text,
        message_ref,
    })
}

/// Every entry, oldest first.
pub async fn all(conn: &mut Conn, incident_id: i64) -> anyhow::Result<Vec<Entry>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, at, actor_id, actor_name, kind, text, message_ref, data FROM timeline \
         WHERE incident_id = $1 ORDER BY at, id",
    )
    .bind(incident_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(entry).collect()
}

/// The last `limit` entries, oldest first.
pub async fn last(conn: &mut Conn, incident_id: i64, limit: u32) -> anyhow::Result<Vec<Entry>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT * FROM (SELECT id, at, actor_id, actor_name, kind, text, message_ref, data FROM timeline \
         WHERE incident_id = $1 ORDER BY at DESC, id DESC LIMIT $2) AS latest ORDER BY at, id",
    )
    .bind(incident_id)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(entry).collect()
}

pub async fn set_message_ref(
    conn: &mut Conn,
    entry_id: i64,
    message_ref: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE timeline SET message_ref = $1 WHERE id = $2")
        .bind(message_ref)
        .bind(entry_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Rewrites an entry's text (a captured message that was edited or deleted).
pub async fn set_text(conn: &mut Conn, entry_id: i64, text: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE timeline SET text = $1 WHERE id = $2")
        .bind(text)
        .bind(entry_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes an entry that only showed a captured message (its capture keeps the text).
pub async fn remove(conn: &mut Conn, entry_id: i64) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM timeline WHERE id = $1 AND kind = 'captured'")
        .bind(entry_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind reads back as written, data included.
    #[test]
    fn kinds_round_trip_through_their_word_and_data() {
        let mut kinds: Vec<EntryKind> = PLAIN.iter().map(|(_, k)| k.clone()).collect();
        kinds.extend([
            EntryKind::Declared {
                severity: Severity::Sev2,
            },
            EntryKind::Severity {
                from: Severity::Sev3,
                to: Severity::Sev1,
            },
            EntryKind::Status {
                from: Status::Triage,
                to: Status::Contained,
            },
            EntryKind::Detected {
                source: "alertmanager".into(),
                fingerprint: "abc".into(),
                labels: BTreeMap::from([("team".into(), "payments".into())]),
                link: None,
            },
            EntryKind::Captured {
                message_ref: "C1:1.2".into(),
                permalink: Some("https://example.slack.com/p1".into()),
                marked_by: "U1".into(),
            },
            EntryKind::Escalated { data: None },
            EntryKind::Paged {
                oncall: "payments/primary".into(),
                person: Some("U0ERIN".into()),
                covering: true,
            },
            EntryKind::Paged {
                oncall: "payments/primary".into(),
                person: None,
                covering: false,
            },
            EntryKind::Escalated {
                data: Some(json!({ "tier": 2, "paged": { "mention": "@sre" } })),
            },
            EntryKind::Other {
                kind: "newer".into(),
                data: Some(json!({ "x": 1 })),
            },
        ]);
        for kind in kinds {
            let back = EntryKind::decode(kind.word().to_owned(), kind.data());
            assert_eq!(back, kind);
        }
    }

    /// Data as earlier versions wrote it reads as the same kind.
    #[test]
    fn stored_data_reads_as_before() {
        let stored = json!({ "from": "SEV2", "to": "SEV1" });
        assert_eq!(
            EntryKind::decode("severity".into(), Some(stored.clone())),
            EntryKind::Severity {
                from: Severity::Sev2,
                to: Severity::Sev1
            }
        );
        let kind = EntryKind::decode("severity".into(), Some(stored.clone()));
        assert_eq!(kind.data(), Some(stored));
        assert_eq!(
            EntryKind::decode("severity".into(), None),
            EntryKind::Other {
                kind: "severity".into(),
                data: None
            }
        );
    }
}
