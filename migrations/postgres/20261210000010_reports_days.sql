-- Reports over a million conversations, all days in one statement: the span indexes also
-- cover the SLA outcomes (so the started and resolved figures are index-only scans), and
-- the auto-replies sent in a span carry their conversation (for grouped and agents'
-- reports).

DROP INDEX conversations_started;
CREATE INDEX conversations_started ON conversations (created_at, id)
    INCLUDE (status, first_response_seconds, first_response_business_seconds, person_replies, first_response_sla,
             channel_id, team_id, assignee_id, first_response_by, link_id);

DROP INDEX conversations_resolved;
CREATE INDEX conversations_resolved ON conversations (resolved_at)
    INCLUDE (resolution_seconds, resolution_business_seconds, resolution_sla,
             channel_id, team_id, assignee_id, first_response_by, link_id)
    WHERE status = 'resolved';

DROP INDEX auto_replies_sent;
CREATE INDEX auto_replies_sent ON auto_replies (sent_at) INCLUDE (conversation_id) WHERE message_id IS NOT NULL;
