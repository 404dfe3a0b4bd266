-- Live updates: the inbox events agents' SSE streams carry (GET /api/v1/events).
--
-- Written by the triggers below, in the same transaction as the change, whoever makes
-- it (ingest, replies, auto-replies, the sender, assignment, status, labels), so nothing
-- is missed and no writer has to remember. SQLite has one writer, so ids (AUTOINCREMENT:
-- never reused, even after a purge) become visible in increasing order: a reader that
-- has seen id N has seen everything below it.
--
-- No personal data: ids, kinds and states only (clients fetch the details). The
-- conversation's channel, the channel's team and the conversation's assignee as they
-- were at the time decide who may see an event. No foreign keys: events outlive what
-- they describe until the retention purge (events.retention_days).
--
-- agent_id by kind: message_created → who sent it (NULL: the customer or an
-- auto-reply); assignment_changed → the previous assignee; label_added → who added it.
-- data: small scalar fields by kind (JSON object).
CREATE TABLE inbox_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    conversation_id  BLOB NOT NULL,
    channel_id       BLOB NOT NULL,
    team_id          BLOB,
    assignee_id      BLOB,
    message_id       BLOB,
    label_id         BLOB,
    agent_id         BLOB,
    data             TEXT NOT NULL DEFAULT '{}',
    at               INTEGER NOT NULL
);
CREATE INDEX inbox_events_at ON inbox_events (at);

CREATE TRIGGER inbox_events_message_created AFTER INSERT ON messages
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, message_id, agent_id, data, at)
    SELECT 'message_created', NEW.conversation_id, c.channel_id, ch.team_id, c.assignee_id, NEW.id, NEW.sent_by,
           json_object('direction', NEW.direction, 'type', NEW.kind, 'state', NEW.state),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER inbox_events_message_status AFTER UPDATE OF state ON messages
WHEN OLD.state IS NOT NEW.state
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, message_id, data, at)
    SELECT 'message_status', NEW.conversation_id, c.channel_id, ch.team_id, c.assignee_id, NEW.id,
           json_object('state', NEW.state, 'previous_state', OLD.state, 'error_code', NEW.error_code),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;

CREATE TRIGGER inbox_events_conversation_created AFTER INSERT ON conversations
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
    SELECT 'conversation_created', NEW.id, NEW.channel_id, ch.team_id, NEW.assignee_id,
           json_object('status', NEW.status), CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id;
END;

CREATE TRIGGER inbox_events_conversation_status AFTER UPDATE OF status ON conversations
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
    SELECT 'conversation_status', NEW.id, NEW.channel_id, ch.team_id, NEW.assignee_id,
           json_object('status', NEW.status, 'previous_status', OLD.status),
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id;
END;

CREATE TRIGGER inbox_events_assignment_changed AFTER UPDATE OF assignee_id ON conversations
WHEN OLD.assignee_id IS NOT NEW.assignee_id
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, agent_id, at)
    SELECT 'assignment_changed', NEW.id, NEW.channel_id, ch.team_id, NEW.assignee_id, OLD.assignee_id,
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM channels ch WHERE ch.id = NEW.channel_id;
END;

CREATE TRIGGER inbox_events_label_added AFTER INSERT ON conversation_labels
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, label_id, agent_id, at)
    SELECT 'label_added', NEW.conversation_id, c.channel_id, ch.team_id, c.assignee_id, NEW.label_id, NEW.added_by,
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = NEW.conversation_id;
END;

-- Also when a label or a conversation is deleted; a conversation deleted with its
-- contact (erasure) leaves no event (the SELECT finds no conversation).
CREATE TRIGGER inbox_events_label_removed AFTER DELETE ON conversation_labels
BEGIN
    INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, label_id, at)
    SELECT 'label_removed', OLD.conversation_id, c.channel_id, ch.team_id, c.assignee_id, OLD.label_id,
           CAST(unixepoch('subsec') * 1000 AS INTEGER)
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = OLD.conversation_id;
END;
