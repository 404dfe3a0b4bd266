-- Erasure of one contact (right to erasure) and retention policies per channel.
--
-- An erasure is a durable job: it removes the content of the contact's messages in
-- batches (cursor: the last message erased, in id order), then scans the event log's raw
-- bodies in slices of ids (cursor: the last id scanned), then anonymises the contact row
-- itself and finishes. A crash leaves the job `running`; the server continues it.
ALTER TABLE contacts ADD COLUMN erased_at TIMESTAMPTZ;

CREATE TABLE erasure_jobs (
    id              UUID PRIMARY KEY,
    contact_id      UUID NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    requested_by    UUID REFERENCES agents (id) ON DELETE SET NULL,
    state           TEXT NOT NULL CHECK (state IN ('running', 'done')),
    phase           TEXT NOT NULL CHECK (phase IN ('messages', 'events', 'contact', 'done')),
    message_cursor  UUID,
    event_cursor    BIGINT NOT NULL DEFAULT 0,
    messages        BIGINT NOT NULL DEFAULT 0,
    events          BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX erasure_jobs_running ON erasure_jobs (contact_id) WHERE state = 'running';

-- How long a channel keeps resolved conversations' content and media (NULL: forever).
CREATE TABLE channel_retention (
    channel_id          UUID PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    conversations_days  INTEGER CHECK (conversations_days IS NULL OR conversations_days > 0),
    media_days          INTEGER CHECK (media_days IS NULL OR media_days > 0),
    updated_at          TIMESTAMPTZ NOT NULL
);

-- When retention removed a resolved conversation's content (its row and KPI facts stay).
ALTER TABLE conversations ADD COLUMN purged_at TIMESTAMPTZ;
CREATE INDEX conversations_retention ON conversations (channel_id, resolved_at)
    WHERE status = 'resolved' AND purged_at IS NULL;
-- Media past a channel's media retention, oldest first.
CREATE INDEX messages_media ON messages (channel_id, timestamp) WHERE media_id IS NOT NULL;
