-- Leases: a named role one replica holds at a time (the Discord gateway's is
-- `discord-gateway`), until `expires_at` unless its owner renews it. Taking one succeeds only
-- when it is free, expired, or already the taker's.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    -- The replica holding it (`klaxon::replica::id`).
    owner      TEXT NOT NULL,
    -- UTC text, as every time: held until then.
    expires_at TEXT NOT NULL
);
