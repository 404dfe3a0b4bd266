-- The transactional outbox (SQLite): every message Switchboard sends is a `messages` row
-- (state `queued` until Meta accepts it) plus an `outbox` job, written in one transaction.
-- Times are INTEGER milliseconds since the Unix epoch, as everywhere.
--
-- A job is `ready` until it is sent, then deleted (the message row keeps the history:
-- wamid, sent_at, delivery states). `dead` (retries used up; an admin can requeue it) and
-- `failed` (Meta refused it) are kept. A `ready` job with `locked_until` in the future is
-- leased to a sender; an expired lease makes it claimable again.
--
-- Ordering: one conversation's jobs are sent in id order. A job is claimable only if no
-- other `ready` job of its conversation is older, or leased.

-- A client's Idempotency-Key, scoped to the agent who sent the message.
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_idempotency ON messages (sent_by, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id       BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- Denormalised from the message (which cascades), for the per-conversation claim.
    conversation_id  BLOB NOT NULL,
    channel_id       BLOB NOT NULL REFERENCES channels (id),
    state            TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'dead', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,   -- claims so far (reset by a requeue)
    run_at           INTEGER NOT NULL,             -- not claimed before this
    locked_until     INTEGER,                      -- the lease of the sender holding it
    last_error       TEXT,
    request          TEXT NOT NULL,                -- the Graph API request body, JSON
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
-- One job per message (and the index the message cascade needs).
CREATE UNIQUE INDEX outbox_message ON outbox (message_id);
-- The claim: due ready jobs, and the per-conversation "anything older or leased?" check.
CREATE INDEX outbox_due ON outbox (run_at, id) WHERE state = 'ready';
CREATE INDEX outbox_conversation ON outbox (conversation_id, id) WHERE state = 'ready';
-- Listing by state, oldest first.
CREATE INDEX outbox_state ON outbox (state, id);
