-- Live updates (PostgreSQL): the inbox events agents' SSE streams carry
-- (GET /api/v1/events). The same table and columns as migrations/sqlite, native types.
--
-- Written by the triggers below in the same transaction as the change, whoever makes it
-- (ingest, replies, auto-replies, the sender, assignment, status, labels), so nothing is
-- missed and no writer has to remember.
--
-- Ids in commit order. A sequence alone hands out ids in the order transactions ask,
-- not the order they commit: a reader could see 11 before 10 commits and skip 10 for
-- good. So the triggers are constraint triggers deferred to commit time, and each first
-- takes one transaction-scoped advisory lock (INBOX_EVENTS_LOCK, "SWBDEVNT"): the
-- transactions that write events take their ids one after the other, at commit, and the
-- lock is released only once the commit is visible. A reader that has seen id N has
-- therefore seen every committed id below it (ids of rolled-back transactions stay
-- unused). The lock is taken after all of the transaction's other work, when it waits
-- for nothing else, so it cannot deadlock; it serialises only those commits.
--
-- Each transaction that writes events also NOTIFYs `switchboard_inbox_events` (empty
-- payload; delivered on commit, one per transaction): every instance's live hub
-- LISTENs and reads the new events, so instances sharing this database see each
-- other's events.
--
-- No personal data: ids, kinds and states only. channel_id, team_id and assignee_id are
-- the conversation's as of the commit: they decide who may see the event. No foreign
-- keys: events outlive what they describe until the retention purge.
--
-- agent_id by kind: message_created → who sent it (NULL: the customer or an
-- auto-reply); assignment_changed → the previous assignee; label_added → who added it.
-- data: small scalar fields by kind.
CREATE TABLE inbox_events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL,
    conversation_id  UUID NOT NULL,
    channel_id       UUID NOT NULL,
    team_id          UUID,
    assignee_id      UUID,
    message_id       UUID,
    label_id         UUID,
    agent_id         UUID,
    data             JSONB NOT NULL DEFAULT '{}',
    at               TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbox_events_at ON inbox_events (at);

-- TG_ARGV[0]: the event's kind.
CREATE FUNCTION inbox_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_kind    TEXT := TG_ARGV[0];
    conv      UUID;
    chan      UUID;
    team      UUID;
    assignee  UUID;
BEGIN
    IF TG_TABLE_NAME = 'conversations' THEN
        conv := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        conv := OLD.conversation_id;
    ELSE
        conv := NEW.conversation_id;
    END IF;
    SELECT c.channel_id, ch.team_id, c.assignee_id INTO chan, team, assignee
    FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = conv;
    IF NOT FOUND THEN
        -- Deleted in the same transaction (a contact's erasure): nothing to show.
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(6005341489110339156);
    IF v_kind = 'message_created' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, message_id, agent_id, data, at)
        VALUES (v_kind, conv, chan, team, assignee, NEW.id, NEW.sent_by,
                jsonb_build_object('direction', NEW.direction, 'type', NEW.kind, 'state', NEW.state), now());
    ELSIF v_kind = 'message_status' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, message_id, data, at)
        VALUES (v_kind, conv, chan, team, assignee, NEW.id,
                jsonb_build_object('state', NEW.state, 'previous_state', OLD.state, 'error_code', NEW.error_code), now());
    ELSIF v_kind = 'conversation_created' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
        VALUES (v_kind, conv, chan, team, NEW.assignee_id, jsonb_build_object('status', NEW.status), now());
    ELSIF v_kind = 'conversation_status' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
        VALUES (v_kind, conv, chan, team, NEW.assignee_id,
                jsonb_build_object('status', NEW.status, 'previous_status', OLD.status), now());
    ELSIF v_kind = 'assignment_changed' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, agent_id, at)
        VALUES (v_kind, conv, chan, team, NEW.assignee_id, OLD.assignee_id, now());
    ELSIF v_kind = 'label_added' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, label_id, agent_id, at)
        VALUES (v_kind, conv, chan, team, assignee, NEW.label_id, NEW.added_by, now());
    ELSIF v_kind = 'label_removed' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, label_id, at)
        VALUES (v_kind, conv, chan, team, assignee, OLD.label_id, now());
    ELSE
        RAISE EXCEPTION 'inbox_events_record: unknown kind %', v_kind;
    END IF;
    PERFORM pg_notify('switchboard_inbox_events', '');
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER inbox_events_message_created AFTER INSERT ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION inbox_events_record('message_created');

CREATE CONSTRAINT TRIGGER inbox_events_message_status AFTER UPDATE OF state ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION inbox_events_record('message_status');

CREATE CONSTRAINT TRIGGER inbox_events_conversation_created AFTER INSERT ON conversations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION inbox_events_record('conversation_created');

CREATE CONSTRAINT TRIGGER inbox_events_conversation_status AFTER UPDATE OF status ON conversations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION inbox_events_record('conversation_status');

CREATE CONSTRAINT TRIGGER inbox_events_assignment_changed AFTER UPDATE OF assignee_id ON conversations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.assignee_id IS DISTINCT FROM NEW.assignee_id)
    EXECUTE FUNCTION inbox_events_record('assignment_changed');

CREATE CONSTRAINT TRIGGER inbox_events_label_added AFTER INSERT ON conversation_labels
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION inbox_events_record('label_added');

CREATE CONSTRAINT TRIGGER inbox_events_label_removed AFTER DELETE ON conversation_labels
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION inbox_events_record('label_removed');
