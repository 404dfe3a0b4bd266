-- Switchboard foundation schema (PostgreSQL 15).
-- The same tables, columns, constraints and index names as migrations/sqlite, with native
-- types: UUID ids, TIMESTAMPTZ times, JSONB documents, BYTEA hashes and bodies, identity
-- sequences for the logs.
--
-- Personal data (phone numbers, names, message text, raw payloads) lives in contacts,
-- conversations, messages and pending_statuses, all reachable from one contact by indexed
-- keys, so erasing a contact is a bounded delete. Webhook bodies in webhook_events hold
-- personal data too: they are purged after the retention period (the hash stays for dedup).

CREATE TABLE channels (
    id                   UUID PRIMARY KEY,
    phone_number_id      TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL
);

-- The event log: every verified webhook delivery, in arrival order, deduplicated by body hash.
-- Ids come from a sequence, so with several writers an id can become visible after a
-- larger one: the ingest worker claims by `state = 'pending'`, never by "ids after N",
-- so a late commit is applied in the next batch rather than skipped.
CREATE TABLE webhook_events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    body_sha256  BYTEA NOT NULL UNIQUE,
    body         BYTEA,                     -- NULL once purged
    received_at  TIMESTAMPTZ NOT NULL,
    deliveries   INTEGER NOT NULL DEFAULT 1, -- how many times Meta sent these bytes
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'failed')),
    applied_at   TIMESTAMPTZ,               -- when applied (or marked failed)
    error        TEXT
);
CREATE INDEX webhook_events_pending ON webhook_events (id) WHERE state = 'pending';

-- Changes kept raw: other webhook fields, changes for unknown numbers, malformed items.
CREATE TABLE recorded_changes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         BIGINT NOT NULL REFERENCES webhook_events (id),
    reason           TEXT NOT NULL,
    field            TEXT NOT NULL,
    phone_number_id  TEXT,
    waba_id          TEXT,
    value            JSONB NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX recorded_changes_reason ON recorded_changes (reason, id);

CREATE TABLE agents (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE api_tokens (
    id            UUID PRIMARY KEY,
    agent_id      UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    token_sha256  BYTEA NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_tokens_agent ON api_tokens (agent_id);

-- A customer, global across channels, identified by their WhatsApp id.
CREATE TABLE contacts (
    id              UUID PRIMARY KEY,
    wa_id           TEXT NOT NULL UNIQUE,
    profile_name    TEXT,
    user_id         TEXT,
    parent_user_id  TEXT,
    username        TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE conversations (
    id                UUID PRIMARY KEY,
    channel_id        UUID NOT NULL REFERENCES channels (id),
    contact_id        UUID NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    status            TEXT NOT NULL CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    assignee_id       UUID REFERENCES agents (id) ON DELETE SET NULL,
    window_closes_at  TIMESTAMPTZ,
    last_inbound_at   TIMESTAMPTZ,
    last_message_at   TIMESTAMPTZ NOT NULL,
    message_count     BIGINT NOT NULL DEFAULT 0,
    referral          JSONB,                -- the ad that started it, if any
    created_at        TIMESTAMPTZ NOT NULL,
    resolved_at       TIMESTAMPTZ
);
-- At most one conversation that is not resolved per contact and channel.
CREATE UNIQUE INDEX conversations_active ON conversations (channel_id, contact_id) WHERE status <> 'resolved';
CREATE INDEX conversations_activity ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_status_activity ON conversations (status, last_message_at DESC, id DESC);
CREATE INDEX conversations_contact ON conversations (contact_id);

CREATE TABLE messages (
    id               UUID PRIMARY KEY,
    conversation_id  UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    channel_id       UUID NOT NULL REFERENCES channels (id),
    direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    wamid            TEXT,
    kind             TEXT NOT NULL,
    text             TEXT,                  -- body, caption or title: for previews and search
    content          JSONB NOT NULL,        -- MessageContent
    media_id         TEXT,
    context          JSONB,                 -- MessageContext
    referral         JSONB,                 -- Referral
    errors           JSONB,                 -- Meta's errors on an inbound message, an array
    raw              JSONB,                 -- the message item as Meta sent it
    state            TEXT NOT NULL,
    sent_by          UUID REFERENCES agents (id) ON DELETE SET NULL,
    timestamp        TIMESTAMPTZ NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    read_at          TIMESTAMPTZ,
    failed_at        TIMESTAMPTZ,
    error_code       BIGINT,
    error_title      TEXT,
    error_details    TEXT,
    event_id         BIGINT                 -- the delivery it came from (inbound)
);
CREATE UNIQUE INDEX messages_wamid ON messages (channel_id, wamid) WHERE wamid IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, id);

-- Status reports for wamids we do not know yet; applied when the message appears.
CREATE TABLE pending_statuses (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id   UUID NOT NULL REFERENCES channels (id),
    wamid        TEXT NOT NULL,
    status       TEXT NOT NULL,
    timestamp    TIMESTAMPTZ NOT NULL,
    errors       JSONB,
    recipient_id TEXT,
    received_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (channel_id, wamid, status)
);
