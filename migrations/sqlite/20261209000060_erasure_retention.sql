-- Erasure of one contact (right to erasure) and retention policies per channel.
--
-- An erasure is a durable job: it removes the content of the contact's messages in
-- batches (cursor: the last message erased, in id order), then scans the event log's raw
-- bodies in slices of ids (cursor: the last id scanned), then anonymises the contact row
-- itself and finishes. A crash leaves the job `running`; the server continues it.
ALTER TABLE contacts ADD COLUMN erased_at INTEGER;

CREATE TABLE erasure_jobs (
    id              BLOB PRIMARY KEY,
    contact_id      BLOB NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    requested_by    BLOB REFERENCES agents (id) ON DELETE SET NULL,
    state           TEXT NOT NULL CHECK (state IN ('running', 'done')),
    phase           TEXT NOT NULL CHECK (phase IN ('messages', 'events', 'contact', 'done')),
    message_cursor  BLOB,
    event_cursor    INTEGER NOT NULL DEFAULT 0,
    messages        INTEGER NOT NULL DEFAULT 0,
    events          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE UNIQUE INDEX erasure_jobs_running ON erasure_jobs (contact_id) WHERE state = 'running';

-- How long a channel keeps resolved conversations' content and media (NULL: forever).
CREATE TABLE channel_retention (
    channel_id          BLOB PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    conversations_days  INTEGER CHECK (conversations_days IS NULL OR conversations_days > 0),
    media_days          INTEGER CHECK (media_days IS NULL OR media_days > 0),
    updated_at          INTEGER NOT NULL
);

-- When retention removed a resolved conversation's content (its row and KPI facts stay).
ALTER TABLE conversations ADD COLUMN purged_at INTEGER;
CREATE INDEX conversations_retention ON conversations (channel_id, resolved_at)
    WHERE status = 'resolved' AND purged_at IS NULL;
-- Media past a channel's media retention, oldest first.
CREATE INDEX messages_media ON messages (channel_id, timestamp) WHERE media_id IS NOT NULL;
