-- Live updates for private notes: `note_created`, with the note's id and its author, to
-- the agents who may see the conversation (their clients then read the note, and
-- `GET /api/v1/mentions` for those that mention them).
ALTER TABLE inbox_events ADD COLUMN note_id BLOB;

CREATE TRIGGER inbox_events_note_created AFTER INSERT ON notes
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, note_id, agent_id, at)
    SELECT 'note_created', NEW.conversation_id, c.channel_id, ch.team_id, c.assignee_id, NEW.id, NEW.author_id,
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;
