-- Orders that relied on SQLite's rowid, made explicit so PostgreSQL keeps them too: which
-- runbook of an incident was started last (a restart of a runbook counts as its latest start).
ALTER TABLE incident_runbooks ADD COLUMN start_seq INTEGER NOT NULL DEFAULT 0;
UPDATE incident_runbooks SET start_seq = rowid;
