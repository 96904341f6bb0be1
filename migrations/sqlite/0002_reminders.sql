-- Timed reminders: status-update cadence, acknowledgement escalation, checklist nudges.
-- A reminder row is the next occurrence of one schedule; firing it and queueing its post
-- happen in one transaction, so a restart neither loses nor repeats it.

ALTER TABLE incidents ADD COLUMN escalation_tier INTEGER NOT NULL DEFAULT 0;
-- `/inc remind every`: this incident's own cadence, in seconds.
ALTER TABLE incidents ADD COLUMN update_every_secs INTEGER;
-- `/inc remind off`.
ALTER TABLE incidents ADD COLUMN reminders_off INTEGER NOT NULL DEFAULT 0;

CREATE TABLE reminders (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    kind          TEXT NOT NULL CHECK (kind IN ('status_update', 'ack', 'checklist', 'followup', 'postmortem')),
    -- The checklist item for 'checklist', the follow-up for 'followup', the step for
    -- 'postmortem' (0: due tomorrow, 1: overdue); 0 otherwise.
    item          INTEGER NOT NULL DEFAULT 0,
    due_at        TEXT NOT NULL,
    -- How many times this schedule has fired.
    fired         INTEGER NOT NULL DEFAULT 0,
    last_fired_at TEXT,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'cancelled')),
    UNIQUE (incident_id, kind, item)
);
CREATE INDEX reminders_due ON reminders (due_at, id) WHERE state = 'pending';

CREATE TABLE checklist_items (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id),
    item         INTEGER NOT NULL,
    text         TEXT NOT NULL,
    -- When it should be done; an open item gets one nudge then.
    due_at       TEXT,
    -- The command that ticks it by itself: declare, ack, lead or update.
    ticked_by    TEXT,
    done_at      TEXT,
    done_by_id   TEXT,
    done_by_name TEXT,
    PRIMARY KEY (incident_id, item)
);
