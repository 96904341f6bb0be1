-- Postmortem drafts (every version kept), follow-ups, correlation ids, postmortem due dates,
-- and structured data on timeline entries (severity and status changes) for the phase diagram.

ALTER TABLE timeline ADD COLUMN data TEXT;

ALTER TABLE incidents ADD COLUMN postmortem_due_at TEXT;
ALTER TABLE incidents ADD COLUMN postmortem_done_at TEXT;

CREATE TABLE postmortems (
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    version         INTEGER NOT NULL,
    created_at      TEXT NOT NULL,
    created_by_id   TEXT NOT NULL,
    created_by_name TEXT,
    markdown        TEXT NOT NULL,
    PRIMARY KEY (incident_id, version)
);

CREATE TABLE followups (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    item         INTEGER NOT NULL,
    text         TEXT NOT NULL,
    owner_id     TEXT,
    owner_name   TEXT,
    -- YYYY-MM-DD, a date in the team's business-hours time zone.
    due_date     TEXT,
    created_at   TEXT NOT NULL,
    done_at      TEXT,
    done_by_id   TEXT,
    done_by_name TEXT,
    PRIMARY KEY (incident_id, item)
);

CREATE TABLE refs (
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    ref         TEXT NOT NULL,
    added_at    TEXT NOT NULL,
    PRIMARY KEY (incident_id, ref)
);
