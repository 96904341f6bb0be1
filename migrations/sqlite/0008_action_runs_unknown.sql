-- A runbook action that was being sent when Klaxon stopped ends 'unknown': the target may or
-- may not have received it, and it is never sent again by itself. SQLite cannot change a CHECK
-- constraint, so action_runs is rebuilt with the new state allowed; nothing references it.

CREATE TABLE action_runs_new (
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
    state             TEXT NOT NULL
                      CHECK (state IN ('awaiting', 'running', 'done', 'failed', 'unknown')),
    confirmed_by_id   TEXT,
    status            INTEGER,
    request_id        TEXT,
    duration_ms       INTEGER,
    outcome           TEXT,
    finished_at       TEXT
);
INSERT INTO action_runs_new (id, incident_id, action, params, requested_by_id, requested_by_name,
    requested_at, code, expires_at, state, confirmed_by_id, status, request_id, duration_ms,
    outcome, finished_at)
SELECT id, incident_id, action, params, requested_by_id, requested_by_name, requested_at, code,
    expires_at, state, confirmed_by_id, status, request_id, duration_ms, outcome, finished_at
FROM action_runs;
DROP TABLE action_runs;
ALTER TABLE action_runs_new RENAME TO action_runs;
CREATE UNIQUE INDEX action_runs_by_code ON action_runs (incident_id, code) WHERE code IS NOT NULL;
-- Start-up looks for runs cut off while sending.
CREATE INDEX action_runs_running ON action_runs (state) WHERE state = 'running';
