-- Lookups that ran once per command scanned whole tables; at 10 000 incidents that made each
-- declare O(n). These indexes make them O(log n).
CREATE INDEX incidents_by_channel_name ON incidents (platform, workspace, channel_name);
CREATE INDEX outbox_pending_by_key ON outbox (incident_id, coalesce_key) WHERE state = 'pending';
