-- KPI facts, recorded in the transaction that causes them (a person's reply, a
-- resolution), in wall-clock seconds and in business seconds of the channel's hours as
-- they were then (equal to wall-clock seconds when the channel has no hours).
--
-- First response: from the conversation's first customer message (or, if automatic
-- messages were sent before, the last of them: the bot's hand-over) to the first message
-- a person sent. Resolution: from the conversation's start to its resolution (resolved
-- conversations are final; a later message starts a new one).
ALTER TABLE conversations ADD COLUMN first_response_at TIMESTAMPTZ;
ALTER TABLE conversations ADD COLUMN first_response_by UUID REFERENCES agents (id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN first_response_seconds BIGINT;
ALTER TABLE conversations ADD COLUMN first_response_business_seconds BIGINT;
ALTER TABLE conversations ADD COLUMN resolution_seconds BIGINT;
ALTER TABLE conversations ADD COLUMN resolution_business_seconds BIGINT;

-- Every reply by a person to a waiting customer: from `waiting_since` to the reply.
CREATE TABLE reply_times (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id   UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    channel_id        UUID NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    message_id        UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    agent_id          UUID REFERENCES agents (id) ON DELETE SET NULL,
    waited_from       TIMESTAMPTZ NOT NULL,
    replied_at        TIMESTAMPTZ NOT NULL,
    seconds           BIGINT NOT NULL,
    business_seconds  BIGINT NOT NULL
);
CREATE INDEX reply_times_conversation ON reply_times (conversation_id, id);
CREATE INDEX reply_times_replied ON reply_times (replied_at);
CREATE INDEX reply_times_message ON reply_times (message_id);
