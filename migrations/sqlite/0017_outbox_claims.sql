-- Several replicas on one database (PostgreSQL): a platform call is claimed before it is made.
-- `owner` is the replica making it, `lease_until` (UTC text) when the claim lapses if that
-- replica dies mid-call; both are cleared when the call ends (done, failed or put off).
ALTER TABLE outbox ADD COLUMN owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
