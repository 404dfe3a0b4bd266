-- The shared queue (PostgreSQL): the same tables, columns, constraints and index
-- names as migrations/sqlite, with native types.
-- Agents' availability and capacity, named API tokens, teams and the channels routed to
-- them, who resolved a conversation, snoozes, the queue order ("waiting since") and each
-- conversation's history.

-- online | away | offline: what the agent says about themselves.
ALTER TABLE agents ADD COLUMN availability TEXT NOT NULL DEFAULT 'offline'
    CHECK (availability IN ('online', 'away', 'offline'));
-- The most conversations that are not resolved the agent holds at once; NULL = no limit.
ALTER TABLE agents ADD COLUMN capacity BIGINT CHECK (capacity IS NULL OR capacity >= 0);

-- A label the owner gives a token ("laptop", "CI"); NULL for none.
ALTER TABLE api_tokens ADD COLUMN name TEXT;

CREATE TABLE teams (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,   -- the name lowercased by the application
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE team_members (
    team_id   UUID NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    agent_id  UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    added_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent ON team_members (agent_id);

-- The team a channel's conversations go to; NULL = every agent sees them.
ALTER TABLE channels ADD COLUMN team_id UUID REFERENCES teams (id) ON DELETE SET NULL;
CREATE INDEX channels_team ON channels (team_id);

-- The time of the oldest inbound message no agent has answered yet (NULL when an agent
-- had the last word, or nobody wrote). Kept by the trigger below, whoever inserts the
-- message: an inbound message sets it if unset (or earlier), an agent's message
-- (`sent_by` set) clears it. Auto-replies (no `sent_by`) do not count as an answer.
-- The queue serves the open, unassigned conversations that have one, oldest first.
ALTER TABLE conversations ADD COLUMN waiting_since TIMESTAMPTZ;
-- When a snoozed conversation reopens. Meaningful only while status = 'snoozed'.
ALTER TABLE conversations ADD COLUMN snoozed_until TIMESTAMPTZ;
-- Who resolved it (NULL: the system, or not resolved).
ALTER TABLE conversations ADD COLUMN resolved_by UUID REFERENCES agents (id) ON DELETE SET NULL;

-- Claim next: walks this index in order.
CREATE INDEX conversations_queue ON conversations (waiting_since, id)
    WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL;
-- An agent's load (capacity) and their conversations.
CREATE INDEX conversations_assignee ON conversations (assignee_id, status) WHERE assignee_id IS NOT NULL;
-- The snooze wake-up job.
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';

UPDATE conversations c SET waiting_since = (
    SELECT MIN(m.timestamp) FROM messages m
    WHERE m.conversation_id = c.id AND m.direction = 'inbound'
      AND m.timestamp > COALESCE(
          (SELECT MAX(r.timestamp) FROM messages r WHERE r.conversation_id = c.id AND r.sent_by IS NOT NULL),
          '-infinity'::timestamptz)
) WHERE c.status <> 'resolved';

CREATE FUNCTION conversations_track_waiting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.direction = 'inbound' THEN
        UPDATE conversations SET waiting_since = NEW.timestamp
        WHERE id = NEW.conversation_id AND (waiting_since IS NULL OR waiting_since > NEW.timestamp);
    ELSIF NEW.sent_by IS NOT NULL THEN
        UPDATE conversations SET waiting_since = NULL
        WHERE id = NEW.conversation_id AND waiting_since IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_waiting AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION conversations_track_waiting();

-- A conversation's history: assignments and status changes, in order.
-- kind: assigned | unassigned | status_changed (more may come; the application checks).
-- actor_id: the agent who did it; NULL for the system (the snooze job, a rule).
CREATE TABLE conversation_events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id  UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    actor_id         UUID REFERENCES agents (id) ON DELETE SET NULL,
    data             JSONB NOT NULL,
    at               TIMESTAMPTZ NOT NULL
);
CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id, id);
