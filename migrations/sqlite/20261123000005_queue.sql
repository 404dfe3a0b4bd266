-- The shared queue (SQLite): agents' availability and capacity, named API tokens, teams
-- and the channels routed to them, who resolved a conversation, snoozes, the queue
-- order ("waiting since") and each conversation's history.
-- Times are INTEGER milliseconds since the Unix epoch; ids 16-byte BLOB UUIDs; JSON is TEXT.

-- online | away | offline: what the agent says about themselves.
ALTER TABLE agents ADD COLUMN availability TEXT NOT NULL DEFAULT 'offline'
    CHECK (availability IN ('online', 'away', 'offline'));
-- The most conversations that are not resolved the agent holds at once; NULL = no limit.
ALTER TABLE agents ADD COLUMN capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0);

-- A label the owner gives a token ("laptop", "CI"); NULL for none.
ALTER TABLE api_tokens ADD COLUMN name TEXT;

CREATE TABLE teams (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,   -- the name lowercased by the application
    created_at  INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id   BLOB NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    agent_id  BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (team_id, agent_id)
);
CREATE INDEX team_members_agent ON team_members (agent_id);

-- The team a channel's conversations go to; NULL = every agent sees them.
ALTER TABLE channels ADD COLUMN team_id BLOB REFERENCES teams (id) ON DELETE SET NULL;
CREATE INDEX channels_team ON channels (team_id);

-- The time of the oldest inbound message no agent has answered yet (NULL when an agent
-- had the last word, or nobody wrote). Kept by the triggers below, whoever inserts the
-- message: an inbound message sets it if unset (or earlier), an agent's message
-- (`sent_by` set) clears it. Auto-replies (no `sent_by`) do not count as an answer.
-- The queue serves the open, unassigned conversations that have one, oldest first.
ALTER TABLE conversations ADD COLUMN waiting_since INTEGER;
-- When a snoozed conversation reopens. Meaningful only while status = 'snoozed'.
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER;
-- Who resolved it (NULL: the system, or not resolved).
ALTER TABLE conversations ADD COLUMN resolved_by BLOB REFERENCES agents (id) ON DELETE SET NULL;

-- Claim next: walks this index in order.
CREATE INDEX conversations_queue ON conversations (waiting_since, id)
    WHERE status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL;
-- An agent's load (capacity) and their conversations.
CREATE INDEX conversations_assignee ON conversations (assignee_id, status) WHERE assignee_id IS NOT NULL;
-- The snooze wake-up job.
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';

UPDATE conversations SET waiting_since = (
    SELECT MIN(m.timestamp) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.direction = 'inbound'
      AND m.timestamp > COALESCE(
          (SELECT MAX(r.timestamp) FROM messages r WHERE r.conversation_id = conversations.id AND r.sent_by IS NOT NULL),
          -9223372036854775808)
) WHERE status <> 'resolved';

CREATE TRIGGER messages_waiting_inbound AFTER INSERT ON messages
WHEN NEW.direction = 'inbound'
BEGIN
    UPDATE conversations SET waiting_since = NEW.timestamp
    WHERE id = NEW.conversation_id AND (waiting_since IS NULL OR waiting_since > NEW.timestamp);
END;

CREATE TRIGGER messages_waiting_answered AFTER INSERT ON messages
WHEN NEW.direction = 'outbound' AND NEW.sent_by IS NOT NULL
BEGIN
    UPDATE conversations SET waiting_since = NULL
    WHERE id = NEW.conversation_id AND waiting_since IS NOT NULL;
END;

-- A conversation's history: assignments and status changes, in order.
-- kind: assigned | unassigned | status_changed (more may come; the application checks).
-- actor_id: the agent who did it; NULL for the system (the snooze job, a rule).
CREATE TABLE conversation_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    actor_id         BLOB REFERENCES agents (id) ON DELETE SET NULL,
    data             TEXT NOT NULL,   -- JSON object
    at               INTEGER NOT NULL
);
CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id, id);
