-- Messages captured into an incident's timeline by a reaction (Slack: 📌). A capture is never
-- deleted: taking the last mark off removes its timeline entry (timeline_id becomes NULL) and
-- keeps the row, with what the message said, so marking it again brings the entry back.

CREATE TABLE captured_messages (
    id            INTEGER PRIMARY KEY,
    incident_id   INTEGER NOT NULL REFERENCES incidents (id),
    channel_id    TEXT NOT NULL,
    -- The platform's message reference (Slack: ts).
    message_ref   TEXT NOT NULL,
    posted_at     TEXT NOT NULL,
    author_id     TEXT NOT NULL,
    author_name   TEXT,
    -- What the message says now, and what it said when first captured.
    text          TEXT NOT NULL,
    original_text TEXT NOT NULL,
    permalink     TEXT,
    captured_at   TEXT NOT NULL,
    edited_at     TEXT,
    deleted_at    TEXT,
    -- The entry that shows it; NULL while nobody's mark is on it.
    timeline_id   INTEGER REFERENCES timeline (id),
    UNIQUE (incident_id, message_ref)
);

-- Who has a mark on a captured message: the entry stays while anyone does.
CREATE TABLE capture_marks (
    capture_id INTEGER NOT NULL REFERENCES captured_messages (id),
    user_id    TEXT NOT NULL,
    PRIMARY KEY (capture_id, user_id)
);
