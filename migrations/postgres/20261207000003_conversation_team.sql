-- Transfer to a team: a conversation may be routed to a team other than its channel's.
-- NULL follows the channel's routing (`channels.team_id`); the conversation's effective
-- team is COALESCE(conversations.team_id, channels.team_id), used wherever a
-- conversation's team decides something: who sees it, the team views, the inbox events
-- (below), claim next and auto-assignment. A deleted team sends its conversations back
-- to their channel's routing.
ALTER TABLE conversations ADD COLUMN team_id UUID REFERENCES teams (id) ON DELETE SET NULL;

-- A team's transferred conversations by status and activity (the team view, counts,
-- the team's deletion).
CREATE INDEX conversations_team ON conversations (team_id, status, last_message_at DESC, id DESC)
    WHERE team_id IS NOT NULL;
-- Reassignment of a team's transferred conversations (as conversations_unanswered per channel).
CREATE INDEX conversations_team_unanswered ON conversations (team_id, waiting_since, id)
    WHERE team_id IS NOT NULL AND status = 'open' AND assignee_id IS NOT NULL AND waiting_since IS NOT NULL;

-- The inbox events carry the effective team; `team_changed`: the conversation moved to
-- another effective team. team_id is the new one; data.previous_team_id the old one, so
-- the agents who lose sight of it hear it left (ids only). The trigger is deferred like
-- the others: OLD is the row before the transaction's first change of it.
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
    ELSE
        RAISE EXCEPTION 'inbox_events_record: unknown kind %', v_kind;
    END IF;
    PERFORM pg_notify('switchboard_inbox_events', '');
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER inbox_events_team_changed AFTER UPDATE OF team_id ON conversations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id)
    EXECUTE FUNCTION inbox_events_record('team_changed');
