-- A reminder whose firing failed (an error inside its transaction) is tried again after a
-- backoff, without holding back the others: how many times in a row it failed, the last
-- error, and the time before which it is not tried again. A successful firing clears them.
ALTER TABLE reminders ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reminders ADD COLUMN last_error TEXT;
ALTER TABLE reminders ADD COLUMN retry_at TEXT;

-- Retention deletes finished platform calls and answered deliveries older than the configured
-- age; these keep that from scanning the tables.
CREATE INDEX outbox_finished ON outbox (created_at) WHERE state != 'pending';
CREATE INDEX deliveries_by_age ON deliveries (received_at);
