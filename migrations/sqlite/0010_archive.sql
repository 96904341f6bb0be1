-- Archiving a resolved incident's channel some time after resolve ([slack] archive_after,
-- [discord] archive_after) is a reminder like the others, of the new kind 'archive'. SQLite
-- cannot change a CHECK constraint, so reminders is rebuilt with the kind allowed; nothing
-- references it. The incident remembers when its channel was archived, so that reopening
-- brings it back.

CREATE TABLE reminders_new (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    kind          TEXT NOT NULL
                  CHECK (kind IN ('status_update', 'ack', 'checklist', 'followup', 'postmortem', 'archive')),
    -- The checklist item for 'checklist', the follow-up for 'followup', the step for
    -- 'postmortem' (0: due tomorrow, 1: overdue); 0 otherwise.
    item          INTEGER NOT NULL DEFAULT 0,
    due_at        TEXT NOT NULL,
    -- How many times this schedule has fired.
    fired         INTEGER NOT NULL DEFAULT 0,
    last_fired_at TEXT,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'cancelled')),
    failures      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    retry_at      TEXT,
    UNIQUE (incident_id, kind, item)
);
INSERT INTO reminders_new (id, incident_id, kind, item, due_at, fired, last_fired_at, state,
    failures, last_error, retry_at)
SELECT id, incident_id, kind, item, due_at, fired, last_fired_at, state, failures, last_error,
    retry_at
FROM reminders;
DROP TABLE reminders;
ALTER TABLE reminders_new RENAME TO reminders;
CREATE INDEX reminders_due ON reminders (due_at, id) WHERE state = 'pending';

-- When Klaxon archived the incident's channel (moved it to the archive category on Discord);
-- NULL while it is not archived.
ALTER TABLE incidents ADD COLUMN archived_at TEXT;
