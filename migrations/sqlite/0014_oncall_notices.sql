-- On-call notices: the post at a layer's handoff and the reminder before a shift. The scheduler
-- plans the next ones from the rotas (covers applied) and fires each due row once, in the same
-- transaction that queues its posts; the key keeps a planned notice from being planned twice,
-- and a fired one stays as `done` so that a restart never sends it again.
CREATE TABLE oncall_notices (
    id         INTEGER PRIMARY KEY,
    schedule   TEXT NOT NULL,
    layer      TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('handoff', 'reminder')),
    -- When the shift changes hands (the handoff) or starts (the reminder's shift).
    shift_at   TEXT NOT NULL,
    due_at     TEXT NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'skipped')),
    fired_at   TEXT,
    UNIQUE (schedule, layer, kind, shift_at)
);
CREATE INDEX oncall_notices_due ON oncall_notices (due_at, id) WHERE state = 'pending';
