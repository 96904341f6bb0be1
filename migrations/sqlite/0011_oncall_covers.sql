-- On-call covers: someone stands in for a schedule layer's rotation over a span. Rows are never
-- deleted: a removed cover keeps who removed it and when, so this table is the audit trail.
CREATE TABLE oncall_covers (
    id          INTEGER PRIMARY KEY,
    schedule    TEXT NOT NULL,
    layer       TEXT NOT NULL,
    -- The platform identity that holds the layer, as the schedule files write them.
    person_id   TEXT NOT NULL,
    person_name TEXT,
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL CHECK (ends_at > starts_at),
    -- Who asked, from where (`platform:workspace`), and when.
    tenant      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    removed_by  TEXT,
    removed_at  TEXT
);

CREATE INDEX oncall_covers_by_layer ON oncall_covers (schedule, layer, ends_at);
