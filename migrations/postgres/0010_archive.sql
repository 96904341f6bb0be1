-- PostgreSQL twin of migrations/sqlite/0010_archive.sql. SQLite rebuilds reminders to change
-- its CHECK; PostgreSQL replaces the named constraint in place (rows and ids stay).
-- Archiving a resolved incident's channel some time after resolve ([slack] archive_after,
-- [discord] archive_after) is a reminder like the others, of the new kind 'archive'. The
-- incident remembers when its channel was archived, so that reopening brings it back.

ALTER TABLE reminders
    DROP CONSTRAINT reminders_kind_check,
    ADD CONSTRAINT reminders_kind_check
        CHECK (kind IN ('status_update', 'ack', 'checklist', 'followup', 'postmortem', 'archive'));

-- When Klaxon archived the incident's channel (moved it to the archive category on Discord);
-- NULL while it is not archived.
ALTER TABLE incidents ADD COLUMN archived_at TEXT;
