-- PostgreSQL twin of migrations/sqlite/0008_action_runs_unknown.sql. SQLite rebuilds the table
-- to change its CHECK; PostgreSQL replaces the named constraint in place (rows and ids stay).
-- A runbook action that was being sent when Klaxon stopped ends 'unknown': the target may or
-- may not have received it, and it is never sent again by itself.

ALTER TABLE action_runs
    DROP CONSTRAINT action_runs_state_check,
    ADD CONSTRAINT action_runs_state_check
        CHECK (state IN ('awaiting', 'running', 'done', 'failed', 'unknown'));
-- Start-up looks for runs cut off while sending.
CREATE INDEX action_runs_running ON action_runs (state) WHERE state = 'running';
