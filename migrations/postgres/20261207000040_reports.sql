-- Reports: how many messages people sent in each conversation (counted by the reply's
-- transaction, with its KPI facts), and indexes that answer a report a day at a time.

ALTER TABLE conversations ADD COLUMN person_replies BIGINT NOT NULL DEFAULT 0;
UPDATE conversations c SET person_replies = m.n
FROM (SELECT conversation_id, COUNT(*) AS n FROM messages WHERE sent_by IS NOT NULL GROUP BY conversation_id) m
WHERE m.conversation_id = c.id;

-- Conversations started in a span, in (start, id) order for the CSV export's pages; the
-- ungrouped figures read the index alone.
CREATE INDEX conversations_started ON conversations (created_at, id)
    INCLUDE (status, first_response_seconds, first_response_business_seconds, person_replies);
-- Conversations resolved in a span, with their resolution times.
CREATE INDEX conversations_resolved ON conversations (resolved_at)
    INCLUDE (resolution_seconds, resolution_business_seconds) WHERE status = 'resolved';
-- Automatic messages sent in a span.
CREATE INDEX auto_replies_sent ON auto_replies (sent_at) WHERE message_id IS NOT NULL;
