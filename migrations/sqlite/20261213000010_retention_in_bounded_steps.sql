-- `conversations.purge_cursor`: the last message a retention purge anonymised in a
-- conversation it has not finished, so a conversation with 100,000 messages is anonymised
-- a step's worth of messages at a time (and the purge resumes there after a restart).
ALTER TABLE conversations ADD COLUMN purge_cursor BLOB;
