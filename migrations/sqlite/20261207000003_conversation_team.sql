-- Transfer to a team: a conversation may be routed to a team other than its channel's.
-- NULL follows the channel's routing (`channels.team_id`); the conversation's effective
-- team is COALESCE(conversations.team_id, channels.team_id), used wherever a
-- conversation's team decides something: who sees it, the team views, the inbox events
-- (below), claim next and auto-assignment. A deleted team sends its conversations back
-- to their channel's routing.
ALTER TABLE conversations ADD COLUMN team_id BLOB REFERENCES teams (id) ON DELETE SET NULL;

-- A team's transferred conversations by status and activity (the team view, counts,
-- the team's deletion).
CREATE INDEX conversations_team ON conversations (team_id, status, last_message_at DESC, id DESC)
    WHERE team_id IS NOT NULL;
-- Reassignment of a team's transferred conversations (as conversations_unanswered per channel).
CREATE INDEX conversations_team_unanswered ON conversations (team_id, waiting_since, id)
    WHERE team_id IS NOT NULL AND status = 'open' AND assignee_id IS NOT NULL AND waiting_since IS NOT NULL;

-- The inbox events carry the effective team.
DROP TRIGGER inbox_events_message_created;
CREATE TRIGGER inbox_events_message_created AFTER INSERT ON messages
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, message_id, agent_id, data, at)
    SELECT 'message_created', NEW.conversation_id, c.channel_id, COALESCE(c.team_id, ch.team_id), c.assignee_id,
           NEW.id, NEW.sent_by,
           json_object('direction', NEW.direction, 'type', NEW.kind, 'state', NEW.state),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;

DROP TRIGGER inbox_events_message_status;
CREATE TRIGGER inbox_events_message_status AFTER UPDATE OF state ON messages
WHEN OLD.state IS NOT NEW.state
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, message_id, data, at)
    SELECT 'message_status', NEW.conversation_id, c.channel_id, COALESCE(c.team_id, ch.team_id), c.assignee_id, NEW.id,
           json_object('state', NEW.state, 'previous_state', OLD.state, 'error_code', NEW.error_code),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;

DROP TRIGGER inbox_events_conversation_created;
CREATE TRIGGER inbox_events_conversation_created AFTER INSERT ON conversations
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
    SELECT 'conversation_created', NEW.id, NEW.channel_id, COALESCE(NEW.team_id, ch.team_id), NEW.assignee_id,
           json_object('status', NEW.status), CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id;
END;

DROP TRIGGER inbox_events_conversation_status;
CREATE TRIGGER inbox_events_conversation_status AFTER UPDATE OF status ON conversations
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
    SELECT 'conversation_status', NEW.id, NEW.channel_id, COALESCE(NEW.team_id, ch.team_id), NEW.assignee_id,
           json_object('status', NEW.status, 'previous_status', OLD.status),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id;
END;

DROP TRIGGER inbox_events_assignment_changed;
CREATE TRIGGER inbox_events_assignment_changed AFTER UPDATE OF assignee_id ON conversations
WHEN OLD.assignee_id IS NOT NEW.assignee_id
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, agent_id, at)
    SELECT 'assignment_changed', NEW.id, NEW.channel_id, COALESCE(NEW.team_id, ch.team_id), NEW.assignee_id,
           OLD.assignee_id, CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id;
END;

DROP TRIGGER inbox_events_label_added;
CREATE TRIGGER inbox_events_label_added AFTER INSERT ON conversation_labels
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, label_id, agent_id, at)
    SELECT 'label_added', NEW.conversation_id, c.channel_id, COALESCE(c.team_id, ch.team_id), c.assignee_id,
           NEW.label_id, NEW.added_by, CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;

DROP TRIGGER inbox_events_label_removed;
CREATE TRIGGER inbox_events_label_removed AFTER DELETE ON conversation_labels
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, label_id, at)
    SELECT 'label_removed', OLD.conversation_id, c.channel_id, COALESCE(c.team_id, ch.team_id), c.assignee_id,
           OLD.label_id, CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = OLD.conversation_id;
END;

DROP TRIGGER inbox_events_note_created;
CREATE TRIGGER inbox_events_note_created AFTER INSERT ON notes
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, note_id, agent_id, at)
    SELECT 'note_created', NEW.conversation_id, c.channel_id, COALESCE(c.team_id, ch.team_id), c.assignee_id,
           NEW.id, NEW.author_id, CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;

-- `team_changed`: the conversation moved to another effective team. team_id is the new
-- one; data.previous_team_id the old one, so the agents who lose sight of it hear it
-- left (ids only; the id in its hyphenated text form, as PostgreSQL writes it).
CREATE TRIGGER inbox_events_team_changed AFTER UPDATE OF team_id ON conversations
WHEN OLD.team_id IS NOT NEW.team_id
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
    SELECT 'team_changed', NEW.id, NEW.channel_id, COALESCE(NEW.team_id, ch.team_id), NEW.assignee_id,
           json_object('previous_team_id', CASE WHEN COALESCE(OLD.team_id, ch.team_id) IS NOT NULL THEN
               substr(lower(hex(COALESCE(OLD.team_id, ch.team_id))), 1, 8) || '-' || substr(lower(hex(COALESCE(OLD.team_id, ch.team_id))), 9, 4) || '-' || substr(lower(hex(COALESCE(OLD.team_id, ch.team_id))), 13, 4) || '-'
               || substr(lower(hex(COALESCE(OLD.team_id, ch.team_id))), 17, 4) || '-' || substr(lower(hex(COALESCE(OLD.team_id, ch.team_id))), 21) END),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id
      AND COALESCE(OLD.team_id, ch.team_id) IS NOT COALESCE(NEW.team_id, ch.team_id);
END;
