-- Switchboard foundation schema (SQLite).
-- Times are INTEGER milliseconds since the Unix epoch (UTC); ids are UUIDs as 16-byte BLOBs;
-- JSON is TEXT. The PostgreSQL schema means the same with native types.
--
-- Personal data (phone numbers, names, message text, raw payloads) lives in contacts,
-- conversations, messages and pending_statuses, all reachable from one contact by indexed
-- keys, so erasing a contact is a bounded delete. Webhook bodies in webhook_events hold
-- personal data too: they are purged after the retention period (the hash stays for dedup).

CREATE TABLE channels (
    id                   BLOB PRIMARY KEY,
    phone_number_id      TEXT NOT NULL UNIQUE,
    name                 TEXT NOT NULL,
    created_at           INTEGER NOT NULL
);

-- The event log: every verified webhook delivery, in arrival order, deduplicated by body hash.
CREATE TABLE webhook_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    body_sha256  BLOB NOT NULL UNIQUE,
    body         BLOB,                      -- NULL once purged
    received_at  INTEGER NOT NULL,
    deliveries   INTEGER NOT NULL DEFAULT 1, -- how many times Meta sent these bytes
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'failed')),
    applied_at   INTEGER,
    error        TEXT
);
CREATE INDEX webhook_events_pending ON webhook_events (id) WHERE state = 'pending';

-- Changes kept raw: other webhook fields, changes for unknown numbers, malformed items.
CREATE TABLE recorded_changes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id         INTEGER NOT NULL REFERENCES webhook_events (id),
    reason           TEXT NOT NULL,
    field            TEXT NOT NULL,
    phone_number_id  TEXT,
    waba_id          TEXT,
    value            TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX recorded_changes_reason ON recorded_changes (reason, id);

CREATE TABLE agents (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
    active      INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id            BLOB PRIMARY KEY,
    agent_id      BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    token_sha256  BLOB NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX api_tokens_agent ON api_tokens (agent_id);

-- A customer, global across channels, identified by their WhatsApp id.
CREATE TABLE contacts (
    id              BLOB PRIMARY KEY,
    wa_id           TEXT NOT NULL UNIQUE,
    profile_name    TEXT,
    user_id         TEXT,
    parent_user_id  TEXT,
    username        TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE conversations (
    id                BLOB PRIMARY KEY,
    channel_id        BLOB NOT NULL REFERENCES channels (id),
    contact_id        BLOB NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    status            TEXT NOT NULL CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    assignee_id       BLOB REFERENCES agents (id) ON DELETE SET NULL,
    window_closes_at  INTEGER,
    last_inbound_at   INTEGER,
    last_message_at   INTEGER NOT NULL,
    message_count     INTEGER NOT NULL DEFAULT 0,
    referral          TEXT,                 -- the ad that started it, if any
    created_at        INTEGER NOT NULL,
    resolved_at       INTEGER
);
-- At most one conversation that is not resolved per contact and channel.
CREATE UNIQUE INDEX conversations_active ON conversations (channel_id, contact_id) WHERE status <> 'resolved';
CREATE INDEX conversations_activity ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_status_activity ON conversations (status, last_message_at DESC, id DESC);
CREATE INDEX conversations_contact ON conversations (contact_id);

CREATE TABLE messages (
    id               BLOB PRIMARY KEY,
    conversation_id  BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    channel_id       BLOB NOT NULL REFERENCES channels (id),
    direction        TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    wamid            TEXT,
    kind             TEXT NOT NULL,
    text             TEXT,                  -- body, caption or title: for previews and search
    content          TEXT NOT NULL,         -- MessageContent as JSON
    media_id         TEXT,
    context          TEXT,                  -- MessageContext as JSON
    referral         TEXT,                  -- Referral as JSON
    errors           TEXT,                  -- Meta's errors on an inbound message, JSON array
    raw              TEXT,                  -- the message item as Meta sent it
    state            TEXT NOT NULL,
    sent_by          BLOB REFERENCES agents (id) ON DELETE SET NULL,
    timestamp        INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    delivered_at     INTEGER,
    read_at          INTEGER,
    failed_at        INTEGER,
    error_code       INTEGER,
    error_title      TEXT,
    error_details    TEXT,
    event_id         INTEGER                -- the delivery it came from (inbound)
);
CREATE UNIQUE INDEX messages_wamid ON messages (channel_id, wamid) WHERE wamid IS NOT NULL;
CREATE INDEX messages_conversation ON messages (conversation_id, id);

-- Status reports for wamids we do not know yet; applied when the message appears.
CREATE TABLE pending_statuses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id   BLOB NOT NULL REFERENCES channels (id),
    wamid        TEXT NOT NULL,
    status       TEXT NOT NULL,
    timestamp    INTEGER NOT NULL,
    errors       TEXT,
    recipient_id TEXT,
    received_at  INTEGER NOT NULL,
    UNIQUE (channel_id, wamid, status)
);
