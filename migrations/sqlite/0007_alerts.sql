-- Alert intake: one row per alert (by fingerprint) per paging channel it was routed to. The
-- same alert firing again updates its row and edits its announcement; it never posts again.
CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    -- The tenant and channel the alert is announced in.
    platform     TEXT NOT NULL,
    workspace    TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    -- `alertmanager`, or the webhook's `source`.
    source       TEXT NOT NULL,
    title        TEXT NOT NULL,
    summary      TEXT,
    severity     INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    -- The alert's labels as a JSON object of strings.
    labels       TEXT NOT NULL,
    link         TEXT,
    auto_declare INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL CHECK (state IN ('firing', 'resolved')),
    -- How many notifications said it was firing.
    fired        INTEGER NOT NULL DEFAULT 1,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    resolved_at  TEXT,
    -- The incident declared from it (by button or rule).
    incident_id  INTEGER REFERENCES incidents (id),
    -- The announcement, once posted.
    message_ref  TEXT,
    UNIQUE (platform, workspace, channel_id, fingerprint)
);
CREATE INDEX alerts_by_incident ON alerts (incident_id) WHERE incident_id IS NOT NULL;
