-- Unseen mentions: when the mentioned agent saw a note mentioning them (NULL: not yet).
-- Opening the conversation (the console's page, or POST
-- /api/v1/conversations/{id}/mentions/seen) marks that agent's mentions in it seen. The
-- console's Mentions view lists the conversations with unseen mentions, newest first,
-- from the partial index (an agent's unseen mentions are few, however many there were).
--
-- Mentions written before this version are taken as seen: the old Mentions view listed
-- them all, so they were there to read, and an upgrade should not fill every agent's
-- view with old notes.
ALTER TABLE note_mentions ADD COLUMN seen_at TIMESTAMPTZ;
UPDATE note_mentions SET seen_at = now();
CREATE INDEX note_mentions_unseen ON note_mentions (agent_id, note_id) WHERE seen_at IS NULL;
