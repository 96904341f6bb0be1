-- Runbooks attached to incidents (with the decision tree's current node), and every attempt to
-- run a runbook action: requested, refused, awaiting confirmation, running, done or failed.

CREATE TABLE incident_runbooks (
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    runbook_id    TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    started_by_id TEXT NOT NULL,
    -- The decision tree's current node; NULL when the runbook has no tree.
    node          TEXT,
    PRIMARY KEY (incident_id, runbook_id)
);

CREATE TABLE action_runs (
    id                INTEGER PRIMARY KEY,
    incident_id       INTEGER NOT NULL REFERENCES incidents (id),
    action            TEXT NOT NULL,
    -- The parameters as given (JSON object); never secrets.
    params            TEXT NOT NULL,
    requested_by_id   TEXT NOT NULL,
    requested_by_name TEXT,
    requested_at      TEXT NOT NULL,
    -- The confirmation code, for actions that ask for one.
    code              TEXT,
    expires_at        TEXT,
    state             TEXT NOT NULL CHECK (state IN ('awaiting', 'running', 'done', 'failed')),
    confirmed_by_id   TEXT,
    status            INTEGER,
    request_id        TEXT,
    duration_ms       INTEGER,
    outcome           TEXT,
    finished_at       TEXT
);
CREATE UNIQUE INDEX action_runs_by_code ON action_runs (incident_id, code) WHERE code IS NOT NULL;
