-- Sign-in links (`/inc web`) and the sessions they open, for the read-only pages. Only the
-- SHA-256 of each token is stored: a copy of the database signs nobody in.

CREATE TABLE web_links (
    token_hash  TEXT PRIMARY KEY,
    platform    TEXT NOT NULL,
    workspace   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    user_name   TEXT,
    -- The incident whose channel the link was asked in: a private one's pages open for it.
    incident_id INTEGER REFERENCES incidents (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    -- Set when the link is used; a link signs in once.
    used_at     TEXT
);

CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    platform   TEXT NOT NULL,
    workspace  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    user_name  TEXT,
    -- JSON array of the incident ids (private incidents) this session may open.
    grants     TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
CREATE INDEX web_links_expiry ON web_links (expires_at);
