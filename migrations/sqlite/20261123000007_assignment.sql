-- Auto-assignment (SQLite): a policy per team and per channel (a channel's own wins,
-- otherwise its team's, otherwise off), and each agent's place in the rotation.
-- Times are INTEGER milliseconds since the Unix epoch; ids 16-byte BLOB UUIDs.

-- When the assigner last gave the agent a conversation, and the rotation's order: every
-- automatic assignment takes the next number (MAX + 1), so "assigned least recently" is
-- the smallest (NULL: never, first in line) and holds across restarts and instances.
ALTER TABLE agents ADD COLUMN last_assigned_at INTEGER;
ALTER TABLE agents ADD COLUMN assignment_seq INTEGER;

-- policy: off | round_robin | least_loaded. reassign_after_minutes: an assignee who has
-- not answered the waiting customer within this many minutes loses the conversation
-- (NULL: never).
CREATE TABLE team_assignment (
    team_id                 BLOB PRIMARY KEY REFERENCES teams (id) ON DELETE CASCADE,
    policy                  TEXT NOT NULL CHECK (policy IN ('off', 'round_robin', 'least_loaded')),
    reassign_after_minutes  INTEGER CHECK (reassign_after_minutes IS NULL OR reassign_after_minutes > 0),
    updated_at              INTEGER NOT NULL
);

-- A channel's own policy; no row: the channel follows its team's.
CREATE TABLE channel_assignment (
    channel_id              BLOB PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    policy                  TEXT NOT NULL CHECK (policy IN ('off', 'round_robin', 'least_loaded')),
    reassign_after_minutes  INTEGER CHECK (reassign_after_minutes IS NULL OR reassign_after_minutes > 0),
    updated_at              INTEGER NOT NULL
);

-- Reassignment: the assigned, open conversations of a channel whose customer waits,
-- longest first.
CREATE INDEX conversations_unanswered ON conversations (channel_id, waiting_since, id)
    WHERE status = 'open' AND assignee_id IS NOT NULL AND waiting_since IS NOT NULL;
