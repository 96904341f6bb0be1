-- Klaxon's first schema: incidents, roles, timeline, tracked posts, the outbox and deliveries.
-- Every row carries its tenant (platform, workspace) directly or through its incident.
-- Times are UTC text, 'YYYY-MM-DDTHH:MM:SS.mmmZ', so they sort as they read.

CREATE TABLE incidents (
    id                   INTEGER PRIMARY KEY,
    platform             TEXT NOT NULL,
    workspace            TEXT NOT NULL,
    number               INTEGER NOT NULL,
    title                TEXT NOT NULL,
    severity             INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    status               TEXT NOT NULL CHECK (status IN ('triage', 'contained', 'recovering', 'resolved')),
    private              INTEGER NOT NULL DEFAULT 0,
    declared_by_id       TEXT NOT NULL,
    declared_by_name     TEXT,
    declared_in          TEXT NOT NULL,
    declared_at          TEXT NOT NULL,
    acknowledged_by_id   TEXT,
    acknowledged_by_name TEXT,
    acknowledged_at      TEXT,
    resolved_at          TEXT,
    resolution           TEXT,
    last_update_at       TEXT,
    last_update          TEXT,
    -- The name from the date and title, before any collision suffix.
    channel_base         TEXT NOT NULL,
    -- The name Klaxon chose; messages written before the channel existed refer to it.
    channel_planned      TEXT NOT NULL,
    -- The name and id the platform gave (a collision on the platform can move the suffix on).
    channel_name         TEXT NOT NULL,
    channel_id           TEXT,
    UNIQUE (platform, workspace, number),
    UNIQUE (platform, workspace, channel_planned)
);
CREATE UNIQUE INDEX incidents_by_channel ON incidents (platform, workspace, channel_id)
    WHERE channel_id IS NOT NULL;
CREATE INDEX incidents_by_status ON incidents (platform, workspace, status);

CREATE TABLE roles (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    role        TEXT NOT NULL CHECK (role IN ('ic', 'comms', 'scribe', 'ops')),
    user_id     TEXT NOT NULL,
    user_name   TEXT,
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (incident_id, role)
);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    -- The platform's reference of the message this entry was posted as, once posted.
    message_ref TEXT
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, at, id);

-- Messages Klaxon keeps editing: the paging-channel announcement and the pinned summary.
CREATE TABLE posts (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    kind        TEXT NOT NULL CHECK (kind IN ('announcement', 'summary')),
    channel_id  TEXT NOT NULL,
    message_ref TEXT NOT NULL,
    PRIMARY KEY (incident_id, kind)
);

-- Platform calls to make, written in the same transaction as the command that caused them and
-- made after the reply, in id order per incident, with retries.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    incident_id INTEGER REFERENCES incidents (id),
    -- Edits of the same thing replace each other while pending (see `supersedes`).
    coalesce_key TEXT,
    op          TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'done', 'failed', 'superseded')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT,
    last_error  TEXT,
    finished_at TEXT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';

-- Platform deliveries already answered: a retry or double click gets the same reply, once.
CREATE TABLE deliveries (
    platform    TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    reply       TEXT NOT NULL,
    PRIMARY KEY (platform, workspace, delivery_id)
);
