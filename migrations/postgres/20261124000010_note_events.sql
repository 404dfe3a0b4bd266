-- Live updates for private notes: `note_created`, with the note's id and its author, to
-- the agents who may see the conversation (their clients then read the note, and
-- `GET /api/v1/mentions` for those that mention them). The recording function gains the
-- kind; everything else about it is as in the events migration (commit order, NOTIFY).
ALTER TABLE inbox_events ADD COLUMN note_id UUID;

CREATE OR REPLACE FUNCTION inbox_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ELSIF v_kind = 'note_created' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, note_id, agent_id, at)
        VALUES (v_kind, conv, chan, team, assignee, NEW.id, NEW.author_id, now());
    ELSE
        RAISE EXCEPTION 'inbox_events_record: unknown kind %', v_kind;
    END IF;
    PERFORM pg_notify('switchboard_inbox_events', '');
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER inbox_events_note_created AFTER INSERT ON notes
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    EXECUTE FUNCTION inbox_events_record('note_created');
