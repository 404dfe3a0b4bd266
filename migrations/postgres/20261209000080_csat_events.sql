-- CSAT answers reach the inbox events, and so live updates and outgoing webhooks
-- (`csat.answered`): `csat_answered` when a rating is recorded or changed, or its comment
-- arrives. data: `score`, `scale`, `previous_score`, `comment` (whether there is one; the
-- text stays on the conversation, read by whoever may see it). The function is the
-- previous one with that kind added.
CREATE OR REPLACE FUNCTION inbox_events_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_kind    TEXT := TG_ARGV[0];
    conv      UUID;
    chan      UUID;
    team      UUID;
    assignee  UUID;
    chan_team UUID;
BEGIN
    IF TG_TABLE_NAME = 'conversations' THEN
        conv := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        conv := OLD.conversation_id;
    ELSE
        conv := NEW.conversation_id;
    END IF;
    SELECT c.channel_id, COALESCE(c.team_id, ch.team_id), c.assignee_id, ch.team_id INTO chan, team, assignee, chan_team
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
    ELSIF v_kind = 'team_changed' THEN
        IF COALESCE(OLD.team_id, chan_team) IS NOT DISTINCT FROM team THEN
            -- Pinned to the team it had already: nobody's view changes.
            RETURN NULL;
        END IF;
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
        VALUES (v_kind, conv, chan, team, assignee,
                jsonb_build_object('previous_team_id', COALESCE(OLD.team_id, chan_team)), now());
    ELSIF v_kind = 'csat_answered' THEN
        INSERT INTO inbox_events (kind, conversation_id, channel_id, team_id, assignee_id, data, at)
        VALUES (v_kind, conv, chan, team, assignee,
                jsonb_build_object('score', NEW.csat_score, 'scale', NEW.csat_scale, 'previous_score', OLD.csat_score,
                                   'comment', NEW.csat_comment IS NOT NULL), now());
    ELSE
        RAISE EXCEPTION 'inbox_events_record: unknown kind %', v_kind;
    END IF;
    PERFORM pg_notify('switchboard_inbox_events', '');
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER inbox_events_csat_answered AFTER UPDATE OF csat_score, csat_comment ON conversations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.csat_score IS DISTINCT FROM NEW.csat_score OR OLD.csat_comment IS DISTINCT FROM NEW.csat_comment)
    EXECUTE FUNCTION inbox_events_record('csat_answered');
