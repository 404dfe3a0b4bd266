-- Outgoing webhooks (Standard Webhooks): endpoints, the messages sent to them, one
-- delivery job per (endpoint, message), and the log of every attempt.
--
-- Where events come from: the inbox events (`inbox_events`, written by triggers in the
-- same transaction as every conversation and message change) and `contact_changes`
-- below (the same, for contacts). The webhook worker turns them into messages and
-- deliveries in one transaction that also moves its cursor (`webhook_fanout`), so an
-- event is delivered if and only if its change committed. See docs/architecture.md.

-- An endpoint. event_types: a JSON array of event type names, empty = every type.
-- The signing secret is sealed with the secrets key (AES-GCM, context = the id); during
-- a rotation the previous one stays valid (both signatures are sent) until
-- previous_secret_until.
CREATE TABLE webhook_endpoints (
    id                     BLOB PRIMARY KEY,
    url                    TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    event_types            TEXT NOT NULL DEFAULT '[]',
    enabled                INTEGER NOT NULL DEFAULT 1,
    disabled_reason        TEXT,
    secret_key_id          TEXT NOT NULL,
    secret                 BLOB NOT NULL,
    previous_secret_key_id TEXT,
    previous_secret        BLOB,
    previous_secret_until  INTEGER,
    -- The first failed attempt since the last success: past webhooks_out.disable_after_days
    -- of failures the endpoint is disabled with a reason.
    failing_since          INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

-- One event as sent: its id is the stable `webhook-id` (msg_<uuid>), its payload the
-- exact body (TEXT in both dialects: the signature covers these bytes).
CREATE TABLE webhook_messages (
    id          BLOB PRIMARY KEY,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX webhook_messages_created ON webhook_messages (created_at);

-- The job of delivering one message to one endpoint. state: pending | delivered | failed.
-- A claim leases it (locked_until, also the claim's token) and counts the attempt.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id       BLOB NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    locked_until     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_message ON webhook_deliveries (message_id);

-- Every attempt: HTTP status (NULL when no answer came), latency, the answer's first
-- characters, or why no request was made or completed.
CREATE TABLE webhook_attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id   INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id   BLOB NOT NULL,
    attempted_at  INTEGER NOT NULL,
    status        INTEGER,
    latency_ms    INTEGER NOT NULL,
    response      TEXT,
    error         TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- The worker's cursor over inbox_events (the last id turned into messages) and a
-- generation that every fan-out moves (a compare-and-set: two instances never both
-- fan out the same events). Starts at the current end: earlier events are not sent.
CREATE TABLE webhook_fanout (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    inbox_event_id  INTEGER NOT NULL,
    generation      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO webhook_fanout (id, inbox_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM inbox_events;

-- Contact changes for outgoing webhooks, written by triggers in the change's
-- transaction (contacts are not in inbox_events: they belong to no conversation).
-- Deleted by the fan-out that consumes them. kind: created | updated.
CREATE TABLE contact_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id  BLOB NOT NULL,
    kind        TEXT NOT NULL,
    at          INTEGER NOT NULL
);

CREATE TRIGGER contact_changes_created AFTER INSERT ON contacts
BEGIN
    INSERT INTO contact_changes (contact_id, kind, at)
    VALUES (NEW.id, 'created', CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER contact_changes_updated AFTER UPDATE ON contacts
WHEN OLD.profile_name IS NOT NEW.profile_name OR OLD.name IS NOT NEW.name
  OR OLD.attributes IS NOT NEW.attributes OR OLD.username IS NOT NEW.username
BEGIN
    INSERT INTO contact_changes (contact_id, kind, at)
    VALUES (NEW.id, 'updated', CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
