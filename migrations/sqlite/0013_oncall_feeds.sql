-- On-call calendar feeds: each feed's address carries a token made from KLAXON_FEED_SECRET, the
-- feed and its generation. `klaxon oncall feed` issues a feed (generation 1) and `--rotate`
-- moves it on, so the address given out before stops working. A feed with no row is not served.
-- Feeds are of the schedule files, which every workspace of this process shares, so a row has
-- no tenant.
CREATE TABLE oncall_feeds (
    -- `schedule:<name>` or `person:<platform id>`.
    feed       TEXT PRIMARY KEY,
    generation INTEGER NOT NULL CHECK (generation >= 1),
    issued_at  TEXT NOT NULL,
    rotated_at TEXT
);
