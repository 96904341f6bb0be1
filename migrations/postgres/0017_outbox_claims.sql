-- The PostgreSQL twin of migrations/sqlite/0017_outbox_claims.sql: several replicas on one
-- database claim a platform call before making it. `owner` is the replica making it,
-- `lease_until` (UTC text) when the claim lapses if that replica dies mid-call; both are
-- cleared when the call ends (done, failed or put off).
ALTER TABLE outbox ADD COLUMN owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
