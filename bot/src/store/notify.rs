//! Wake-ups between replicas on PostgreSQL: a transaction that queues platform calls or changes
//! reminders also sends `NOTIFY klaxon` with what changed, which PostgreSQL delivers to every
//! listening replica when (and only if) the transaction commits, once per transaction for the
//! same payload. Each replica listens (`crate::wakeups`) and wakes its dispatcher or scheduler.
//! On SQLite (one process) the engine's in-process wake-ups are all there is; this does nothing.

use sqlx::Executor as _;

use crate::store::Conn;

/// The channel every replica listens on.
pub const CHANNEL: &str = "klaxon";

/// What changed, as the notification's payload says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Platform calls were queued: dispatchers read the outbox again.
    Outbox,
    /// A reminder was scheduled or moved: schedulers read the next due time again.
    Reminders,
}

impl Wake {
    /// The payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbox => "outbox",
            Self::Reminders => "reminders",
        }
    }

    /// A payload read back.
    pub fn parse(payload: &str) -> Option<Self> {
        match payload {
            "outbox" => Some(Self::Outbox),
            "reminders" => Some(Self::Reminders),
            _ => None,
        }
    }

    /// The statement (constant text: NOTIFY takes no parameters).
    fn statement(self) -> &'static str {
        match self {
            Self::Outbox => "NOTIFY klaxon, 'outbox'",
            Self::Reminders => "NOTIFY klaxon, 'reminders'",
        }
    }
}

/// Tells the other replicas, when the caller's transaction commits, that `what` changed.
pub(crate) async fn send(conn: &mut Conn, what: Wake) -> anyhow::Result<()> {
    if crate::store::Backend::of_conn(conn) == crate::store::Backend::Postgres {
        conn.execute(what.statement()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back() {
        for wake in [Wake::Outbox, Wake::Reminders] {
            assert_eq!(Wake::parse(wake.as_str()), Some(wake));
            assert!(wake.statement().starts_with(&format!("NOTIFY {CHANNEL}, ")));
            assert!(wake.statement().ends_with(&format!("'{}'", wake.as_str())));
        }
        assert_eq!(Wake::parse(""), None);
    }
}
