-- Reports read past figures from a cache of 15-minute slots (UTC), each slot's counts
-- and durations per grouping kept as computed; a slot is recomputed from the facts only
-- when something it counts changed.
--
-- `report_marks`: each slot that changed, with numbers that grow at every change, one per
-- writer (PostgreSQL: the connection's backend; SQLite has one writer, 0), so that
-- concurrent transactions never wait on one another's marks; a slot's mark is their sum.
-- Slot -1 stands for every slot (a change of what groups mean: a channel's team, or a
-- group deleted). The triggers below mark the slots of whatever a report reads: a
-- conversation's start, resolution and survey (and its automatic messages' slots when its
-- groups change), an automatic message's sending. Only instants more than an hour old
-- are marked (the cache holds only slots that ended more than three hours ago), so the
-- writes of live conversations mark nothing.
--
-- `report_slots`: a slot's figures for one kind (`all`, or a grouping), with the marks it
-- was computed under: valid while the slot's mark and slot -1's are still those (a sum
-- of numbers that only grow changes whenever one does).

CREATE TABLE report_marks (
    slot    INTEGER NOT NULL,
    writer  INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (slot, writer)
) WITHOUT ROWID;

CREATE TABLE report_slots (
    kind   TEXT NOT NULL,
    slot   INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    epoch  INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (kind, slot)
) WITHOUT ROWID;

CREATE TRIGGER report_marks_conversation_created AFTER INSERT ON conversations
WHEN NEW.created_at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (NEW.created_at / 900000, 0, 1)
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_conversation_updated AFTER UPDATE ON conversations
WHEN (OLD.status IS NOT NEW.status OR OLD.created_at IS NOT NEW.created_at
  OR OLD.resolved_at IS NOT NEW.resolved_at OR OLD.person_replies IS NOT NEW.person_replies
  OR OLD.first_response_seconds IS NOT NEW.first_response_seconds
  OR OLD.first_response_business_seconds IS NOT NEW.first_response_business_seconds
  OR OLD.resolution_seconds IS NOT NEW.resolution_seconds
  OR OLD.resolution_business_seconds IS NOT NEW.resolution_business_seconds
  OR OLD.first_response_sla IS NOT NEW.first_response_sla OR OLD.resolution_sla IS NOT NEW.resolution_sla
  OR OLD.csat_scale IS NOT NEW.csat_scale OR OLD.csat_queued_at IS NOT NEW.csat_queued_at
  OR OLD.csat_score IS NOT NEW.csat_score
  OR OLD.channel_id IS NOT NEW.channel_id OR OLD.team_id IS NOT NEW.team_id
  OR OLD.assignee_id IS NOT NEW.assignee_id OR OLD.first_response_by IS NOT NEW.first_response_by
  OR OLD.link_id IS NOT NEW.link_id)
  -- What it marks is never older than its start: a live conversation marks nothing.
  AND (OLD.created_at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
    OR NEW.created_at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000)
BEGIN
    INSERT INTO report_marks (slot, writer, seq)
    SELECT at / 900000, 0, 1 FROM (
        SELECT OLD.created_at AS at UNION SELECT NEW.created_at
        UNION SELECT OLD.resolved_at UNION SELECT NEW.resolved_at
        UNION SELECT OLD.csat_queued_at UNION SELECT NEW.csat_queued_at
        UNION SELECT ar.sent_at FROM auto_replies ar
        WHERE ar.conversation_id = NEW.id AND ar.message_id IS NOT NULL
          AND (OLD.channel_id IS NOT NEW.channel_id OR OLD.team_id IS NOT NEW.team_id
            OR OLD.assignee_id IS NOT NEW.assignee_id OR OLD.first_response_by IS NOT NEW.first_response_by
            OR OLD.link_id IS NOT NEW.link_id)
    )
    WHERE at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
    GROUP BY at / 900000
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_conversation_deleted AFTER DELETE ON conversations
BEGIN
    INSERT INTO report_marks (slot, writer, seq)
    SELECT at / 900000, 0, 1 FROM (
        SELECT OLD.created_at AS at UNION SELECT OLD.resolved_at UNION SELECT OLD.csat_queued_at
        UNION SELECT ar.sent_at FROM auto_replies ar WHERE ar.conversation_id = OLD.id AND ar.message_id IS NOT NULL
    )
    WHERE at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
    GROUP BY at / 900000
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_labelled AFTER INSERT ON conversation_labels
BEGIN
    INSERT INTO report_marks (slot, writer, seq)
    SELECT at / 900000, 0, 1 FROM (
        SELECT c.created_at AS at FROM conversations c WHERE c.id = NEW.conversation_id
        UNION SELECT c.resolved_at FROM conversations c WHERE c.id = NEW.conversation_id
        UNION SELECT c.csat_queued_at FROM conversations c WHERE c.id = NEW.conversation_id
        UNION SELECT ar.sent_at FROM auto_replies ar
        WHERE ar.conversation_id = NEW.conversation_id AND ar.message_id IS NOT NULL
    )
    WHERE at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
    GROUP BY at / 900000
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_unlabelled AFTER DELETE ON conversation_labels
BEGIN
    INSERT INTO report_marks (slot, writer, seq)
    SELECT at / 900000, 0, 1 FROM (
        SELECT c.created_at AS at FROM conversations c WHERE c.id = OLD.conversation_id
        UNION SELECT c.resolved_at FROM conversations c WHERE c.id = OLD.conversation_id
        UNION SELECT c.csat_queued_at FROM conversations c WHERE c.id = OLD.conversation_id
        UNION SELECT ar.sent_at FROM auto_replies ar
        WHERE ar.conversation_id = OLD.conversation_id AND ar.message_id IS NOT NULL
    )
    WHERE at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
    GROUP BY at / 900000
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_auto_reply_created AFTER INSERT ON auto_replies
WHEN NEW.message_id IS NOT NULL AND NEW.sent_at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (NEW.sent_at / 900000, 0, 1)
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_auto_reply_updated AFTER UPDATE ON auto_replies
WHEN (OLD.message_id IS NOT NEW.message_id OR OLD.sent_at IS NOT NEW.sent_at
  OR OLD.conversation_id IS NOT NEW.conversation_id)
  AND (OLD.sent_at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
    OR NEW.sent_at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000)
BEGIN
    INSERT INTO report_marks (slot, writer, seq)
    SELECT at / 900000, 0, 1 FROM (SELECT OLD.sent_at AS at UNION SELECT NEW.sent_at)
    WHERE at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
    GROUP BY at / 900000
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_auto_reply_deleted AFTER DELETE ON auto_replies
WHEN OLD.message_id IS NOT NULL AND OLD.sent_at < CAST(unixepoch('subsec') * 1000 AS INTEGER) - 3600000
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (OLD.sent_at / 900000, 0, 1)
    ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

-- What groups mean changed: every slot.
CREATE TRIGGER report_marks_channel_team AFTER UPDATE OF team_id ON channels
WHEN OLD.team_id IS NOT NEW.team_id
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (-1, 0, 1) ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_channel_deleted AFTER DELETE ON channels
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (-1, 0, 1) ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_team_deleted AFTER DELETE ON teams
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (-1, 0, 1) ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_agent_deleted AFTER DELETE ON agents
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (-1, 0, 1) ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_label_deleted AFTER DELETE ON labels
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (-1, 0, 1) ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;

CREATE TRIGGER report_marks_link_deleted AFTER DELETE ON links
BEGIN
    INSERT INTO report_marks (slot, writer, seq) VALUES (-1, 0, 1) ON CONFLICT (slot, writer) DO UPDATE SET seq = seq + 1;
END;
