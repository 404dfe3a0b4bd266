-- Reports read past figures from a cache of 15-minute slots (UTC), each slot's counts
-- and durations per grouping kept as computed; a slot is recomputed from the facts only
-- when something it counts changed.
--
-- `report_marks`: each slot that changed, with numbers that grow at every change, one per
-- writer (the connection's backend), so that concurrent transactions never wait on one
-- another's marks (nor deadlock on them); a slot's mark is their sum. Slot -1 stands for
-- every slot (a change of what groups mean: a channel's team, or a
-- group deleted). The triggers below mark the slots of whatever a report reads: a
-- conversation's start, resolution and survey (and its automatic messages' slots when its
-- groups change), an automatic message's sending. Only instants more than an hour old
-- are marked (the cache holds only slots that ended more than three hours ago), so the
-- writes of live conversations mark nothing (and never wait on one another's marks).
--
-- `report_slots`: a slot's figures for one kind (`all`, or a grouping), with the marks it
-- was computed under: valid while the slot's mark and slot -1's are still those (a sum
-- of numbers that only grow changes whenever one does).

CREATE TABLE report_marks (
    slot    BIGINT NOT NULL,
    writer  INTEGER NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (slot, writer)
);

CREATE TABLE report_slots (
    kind   TEXT NOT NULL,
    slot   BIGINT NOT NULL,
    seq    BIGINT NOT NULL,
    epoch  BIGINT NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (kind, slot)
);

-- Marks the slots of the instants given that are more than an hour old (NULLs skipped).
CREATE FUNCTION report_mark(ats timestamptz[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_marks (slot, writer, seq)
    SELECT DISTINCT floor(extract(epoch FROM at) / 900)::bigint, pg_backend_pid(), 1 FROM unnest(ats) AS at
    WHERE at < now() - interval '1 hour'
    ON CONFLICT (slot, writer) DO UPDATE SET seq = report_marks.seq + 1
$$;

-- The instants of conversation `conv`'s automatic messages sent.
CREATE FUNCTION report_auto_reply_times(conv uuid) RETURNS timestamptz[] LANGUAGE sql STABLE AS $$
    SELECT COALESCE(array_agg(ar.sent_at), '{}') FROM auto_replies ar
    WHERE ar.conversation_id = conv AND ar.message_id IS NOT NULL
$$;

CREATE FUNCTION report_marks_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM report_mark(ARRAY[NEW.created_at]);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM report_mark(ARRAY[OLD.created_at, OLD.resolved_at, OLD.csat_queued_at]
            || report_auto_reply_times(OLD.id));
    ELSIF OLD.channel_id IS DISTINCT FROM NEW.channel_id OR OLD.team_id IS DISTINCT FROM NEW.team_id
       OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
       OR OLD.first_response_by IS DISTINCT FROM NEW.first_response_by
       OR OLD.link_id IS DISTINCT FROM NEW.link_id THEN
        PERFORM report_mark(ARRAY[OLD.created_at, NEW.created_at, OLD.resolved_at, NEW.resolved_at,
            OLD.csat_queued_at, NEW.csat_queued_at] || report_auto_reply_times(NEW.id));
    ELSE
        PERFORM report_mark(ARRAY[OLD.created_at, NEW.created_at, OLD.resolved_at, NEW.resolved_at,
            OLD.csat_queued_at, NEW.csat_queued_at]);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_marks_conversation_created AFTER INSERT ON conversations
FOR EACH ROW WHEN (NEW.created_at < now() - interval '1 hour')
EXECUTE FUNCTION report_marks_conversation();

CREATE TRIGGER report_marks_conversation_updated AFTER UPDATE ON conversations
FOR EACH ROW WHEN ((OLD.status IS DISTINCT FROM NEW.status OR OLD.created_at IS DISTINCT FROM NEW.created_at
  OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at OR OLD.person_replies IS DISTINCT FROM NEW.person_replies
  OR OLD.first_response_seconds IS DISTINCT FROM NEW.first_response_seconds
  OR OLD.first_response_business_seconds IS DISTINCT FROM NEW.first_response_business_seconds
  OR OLD.resolution_seconds IS DISTINCT FROM NEW.resolution_seconds
  OR OLD.resolution_business_seconds IS DISTINCT FROM NEW.resolution_business_seconds
  OR OLD.first_response_sla IS DISTINCT FROM NEW.first_response_sla
  OR OLD.resolution_sla IS DISTINCT FROM NEW.resolution_sla
  OR OLD.csat_scale IS DISTINCT FROM NEW.csat_scale OR OLD.csat_queued_at IS DISTINCT FROM NEW.csat_queued_at
  OR OLD.csat_score IS DISTINCT FROM NEW.csat_score
  OR OLD.channel_id IS DISTINCT FROM NEW.channel_id OR OLD.team_id IS DISTINCT FROM NEW.team_id
  OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
  OR OLD.first_response_by IS DISTINCT FROM NEW.first_response_by
  OR OLD.link_id IS DISTINCT FROM NEW.link_id)
  -- What it marks is never older than its start: a live conversation marks nothing.
  AND (OLD.created_at < now() - interval '1 hour' OR NEW.created_at < now() - interval '1 hour'))
EXECUTE FUNCTION report_marks_conversation();

CREATE TRIGGER report_marks_conversation_deleted AFTER DELETE ON conversations
FOR EACH ROW EXECUTE FUNCTION report_marks_conversation();

CREATE FUNCTION report_marks_labels() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv uuid := CASE WHEN TG_OP = 'INSERT' THEN NEW.conversation_id ELSE OLD.conversation_id END;
BEGIN
    PERFORM report_mark(ARRAY(
        SELECT unnest(ARRAY[c.created_at, c.resolved_at, c.csat_queued_at]) FROM conversations c WHERE c.id = conv
    ) || report_auto_reply_times(conv));
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_marks_labelled AFTER INSERT OR DELETE ON conversation_labels
FOR EACH ROW EXECUTE FUNCTION report_marks_labels();

CREATE FUNCTION report_marks_auto_reply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM report_mark(ARRAY[NEW.sent_at]);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM report_mark(ARRAY[OLD.sent_at]);
    ELSE
        PERFORM report_mark(ARRAY[OLD.sent_at, NEW.sent_at]);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_marks_auto_reply_created AFTER INSERT ON auto_replies
FOR EACH ROW WHEN (NEW.message_id IS NOT NULL AND NEW.sent_at < now() - interval '1 hour')
EXECUTE FUNCTION report_marks_auto_reply();

CREATE TRIGGER report_marks_auto_reply_updated AFTER UPDATE ON auto_replies
FOR EACH ROW WHEN ((OLD.message_id IS DISTINCT FROM NEW.message_id OR OLD.sent_at IS DISTINCT FROM NEW.sent_at
  OR OLD.conversation_id IS DISTINCT FROM NEW.conversation_id)
  AND (OLD.sent_at < now() - interval '1 hour' OR NEW.sent_at < now() - interval '1 hour'))
EXECUTE FUNCTION report_marks_auto_reply();

CREATE TRIGGER report_marks_auto_reply_deleted AFTER DELETE ON auto_replies
FOR EACH ROW WHEN (OLD.message_id IS NOT NULL AND OLD.sent_at < now() - interval '1 hour')
EXECUTE FUNCTION report_marks_auto_reply();

-- What groups mean changed: every slot.
CREATE FUNCTION report_marks_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (-1, pg_backend_pid(), 1)
    ON CONFLICT (slot, writer) DO UPDATE SET seq = report_marks.seq + 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_marks_channel_team AFTER UPDATE OF team_id ON channels
FOR EACH ROW WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id) EXECUTE FUNCTION report_marks_all();
CREATE TRIGGER report_marks_channel_deleted AFTER DELETE ON channels
FOR EACH ROW EXECUTE FUNCTION report_marks_all();
CREATE TRIGGER report_marks_team_deleted AFTER DELETE ON teams
FOR EACH ROW EXECUTE FUNCTION report_marks_all();
CREATE TRIGGER report_marks_agent_deleted AFTER DELETE ON agents
FOR EACH ROW EXECUTE FUNCTION report_marks_all();
CREATE TRIGGER report_marks_label_deleted AFTER DELETE ON labels
FOR EACH ROW EXECUTE FUNCTION report_marks_all();
CREATE TRIGGER report_marks_link_deleted AFTER DELETE ON links
FOR EACH ROW EXECUTE FUNCTION report_marks_all();
