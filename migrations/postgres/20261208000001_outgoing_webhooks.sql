-- Outgoing webhooks (Standard Webhooks): endpoints, the messages sent to them, one
-- delivery job per (endpoint, message), and the log of every attempt. The same tables
-- as migrations/sqlite, native types.
--
-- Where events come from: the inbox events (`inbox_events`, written by triggers in the
-- same transaction as every conversation and message change, ids visible in commit
-- order) and `contact_changes` below. The webhook worker turns them into messages and
-- deliveries in one transaction that also moves its cursor (`webhook_fanout`), so an
-- event is delivered if and only if its change committed. See docs/architecture.md.

CREATE TABLE webhook_endpoints (
    id                     UUID PRIMARY KEY,
    url                    TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    event_types            TEXT NOT NULL DEFAULT '[]',
    enabled                BOOLEAN NOT NULL DEFAULT TRUE,
    disabled_reason        TEXT,
    secret_key_id          TEXT NOT NULL,
    secret                 BYTEA NOT NULL,
    previous_secret_key_id TEXT,
    previous_secret        BYTEA,
    previous_secret_until  TIMESTAMPTZ,
    failing_since          TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);

-- payload is TEXT, not JSONB: the signature covers these exact bytes.
CREATE TABLE webhook_messages (
    id          UUID PRIMARY KEY,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_messages_created ON webhook_messages (created_at);

CREATE TABLE webhook_deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id      UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id       UUID NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    locked_until     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (endpoint_id, message_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_message ON webhook_deliveries (message_id);

CREATE TABLE webhook_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id   UUID NOT NULL,
    attempted_at  TIMESTAMPTZ NOT NULL,
    status        INTEGER,
    latency_ms    BIGINT NOT NULL,
    response      TEXT,
    error         TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- The cursor over inbox_events and the compare-and-set generation (see migrations/sqlite).
CREATE TABLE webhook_fanout (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    inbox_event_id  BIGINT NOT NULL,
    generation      BIGINT NOT NULL DEFAULT 0
);
INSERT INTO webhook_fanout (id, inbox_event_id) SELECT 1, COALESCE(MAX(id), 0) FROM inbox_events;

-- Contact changes, written in the change's transaction, deleted by the fan-out that
-- consumes them (by id, never "ids below N": ids are not in commit order here).
CREATE TABLE contact_changes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  UUID NOT NULL,
    kind        TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);

CREATE FUNCTION contact_changes_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_changes (contact_id, kind, at) VALUES (NEW.id, TG_ARGV[0], clock_timestamp());
    RETURN NULL;
END;
$$;

CREATE TRIGGER contact_changes_created AFTER INSERT ON contacts
    FOR EACH ROW EXECUTE FUNCTION contact_changes_record('created');

CREATE TRIGGER contact_changes_updated AFTER UPDATE ON contacts
    FOR EACH ROW WHEN (OLD.profile_name IS DISTINCT FROM NEW.profile_name OR OLD.name IS DISTINCT FROM NEW.name
        OR OLD.attributes IS DISTINCT FROM NEW.attributes OR OLD.username IS DISTINCT FROM NEW.username)
    EXECUTE FUNCTION contact_changes_record('updated');
