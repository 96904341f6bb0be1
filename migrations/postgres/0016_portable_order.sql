-- The PostgreSQL twin of migrations/sqlite/0016_portable_order.sql: which runbook of an
-- incident was started last, as an explicit column (SQLite's file used its rowid before).
ALTER TABLE incident_runbooks ADD COLUMN start_seq BIGINT NOT NULL DEFAULT 0;
