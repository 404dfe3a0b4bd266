-- Search covers what customers and agents wrote, not automatic replies (greeting, away,
-- keyword answers): those are canned text, the same words in every conversation, so they
-- would match every search for a common word while finding nothing an agent looks for,
-- and indexing their trigrams costs writes on the hot path of every answered message.
-- The search query says `auto_rule IS NULL`, which lets it use this partial index.
DROP INDEX messages_text_trgm;
CREATE INDEX messages_text_trgm ON messages USING gin (text gin_trgm_ops) WHERE auto_rule IS NULL;
