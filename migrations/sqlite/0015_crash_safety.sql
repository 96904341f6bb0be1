-- What an interrupted platform call may have made, so that a retry after a crash finds it
-- instead of making it twice.

-- When the call was first started (real time): a row with it set may have reached the
-- platform before the process stopped, so a post looks for itself before posting again.
ALTER TABLE outbox ADD COLUMN started_at TEXT;

-- The channel names a channel creation claimed, each written before the platform was asked:
-- a retry looks for a channel of that name that Klaxon made since then and adopts it.
CREATE TABLE channel_attempts (
    id           INTEGER PRIMARY KEY,
    outbox_id    INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    name         TEXT NOT NULL,
    attempted_at TEXT NOT NULL
);
CREATE INDEX channel_attempts_by_incident ON channel_attempts (incident_id);
