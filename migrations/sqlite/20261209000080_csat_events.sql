-- CSAT answers reach the inbox events, and so live updates and outgoing webhooks
-- (`csat.answered`): `csat_answered` when a rating is recorded or changed, or its comment
-- arrives. data: `score`, `scale`, `previous_score`, `comment` (whether there is one; the
-- text stays on the conversation, read by whoever may see it).
CREATE TRIGGER inbox_events_csat_answered AFTER UPDATE OF csat_score, csat_comment ON conversations
WHEN OLD.csat_score IS NOT NEW.csat_score OR OLD.csat_comment IS NOT NEW.csat_comment
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
    SELECT 'csat_answered', NEW.id, NEW.channel_id, COALESCE(NEW.team_id, ch.team_id), NEW.assignee_id,
           json_object('score', NEW.csat_score, 'scale', NEW.csat_scale, 'previous_score', OLD.csat_score,
                       'comment', json(CASE WHEN NEW.csat_comment IS NULL THEN 'false' ELSE 'true' END)),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id;
END;
