-- The event log deduplicates by (body_time, body_sha256) instead of the hash alone.
--
-- body_time is the first `"timestamp":"…"` in the body (Meta's unix seconds of its first
-- message or status; 0 if none), so the unique index grows at its end, in time order,
-- like the log. Keyed by the hash alone, every delivery wrote a random page of an index
-- that never shrinks (bodies are purged, rows and hashes stay): 29 % of the WAL's pages
-- at saturation, and once the index outgrows the page cache, a disk read per delivery.
-- Both parts are functions of the bytes, so a retry (the same bytes) still finds its
-- first copy.
--
-- The UNIQUE constraint is part of the table's definition: the table is rebuilt, and
-- recorded_changes with it (its foreign key must follow the new table; the old one is
-- dropped once nothing refers to it). Ids and AUTOINCREMENT sequences are kept.

CREATE TABLE webhook_events_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    body_time    INTEGER NOT NULL,
    body_sha256  BLOB NOT NULL,
    body         BLOB,                      -- NULL once purged
    received_at  INTEGER NOT NULL,
    deliveries   INTEGER NOT NULL DEFAULT 1, -- how many times Meta sent these bytes
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'failed')),
    applied_at   INTEGER,
    error        TEXT,
    UNIQUE (body_time, body_sha256)
);

-- The same scan as switchboard_cloudapi::delivery_time, for the rows already stored: the
-- digits (at most 18) after the first `"timestamp":"`. A purged body's row gets 0: its
-- retries ended long before (Meta retries for up to 7 days).
INSERT INTO webhook_events_new (id, body_time, body_sha256, body, received_at, deliveries, state, applied_at, error)
SELECT id,
       CASE WHEN p > 0 AND substr(t, p + 13, 1) GLOB '[0-9]' THEN CAST(substr(t, p + 13, 18) AS INTEGER) ELSE 0 END,
       body_sha256, body, received_at, deliveries, state, applied_at, error
FROM (SELECT *, CAST(body AS TEXT) AS t, instr(CAST(body AS TEXT), '"timestamp":"') AS p FROM webhook_events);

CREATE TABLE recorded_changes_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         INTEGER NOT NULL REFERENCES webhook_events_new (id),
    reason           TEXT NOT NULL,
    field            TEXT NOT NULL,
    phone_number_id  TEXT,
    waba_id          TEXT,
    value            TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);
INSERT INTO recorded_changes_new SELECT * FROM recorded_changes;

-- The AUTOINCREMENT high-water marks, even where the newest rows were deleted.
DELETE FROM sqlite_sequence WHERE name IN ('webhook_events_new', 'recorded_changes_new');
INSERT INTO sqlite_sequence (name, seq)
SELECT name || '_new', seq FROM sqlite_sequence WHERE name IN ('webhook_events', 'recorded_changes');

DROP TABLE recorded_changes;
DROP TABLE webhook_events;
-- Renaming also rewrites recorded_changes_new's reference to webhook_events_new.
ALTER TABLE webhook_events_new RENAME TO webhook_events;
ALTER TABLE recorded_changes_new RENAME TO recorded_changes;

CREATE INDEX webhook_events_pending ON webhook_events (id) WHERE state = 'pending';
CREATE INDEX recorded_changes_reason ON recorded_changes (reason, id);
