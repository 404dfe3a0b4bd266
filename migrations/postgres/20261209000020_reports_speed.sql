-- Reports over a million conversations: the span indexes cover every column a grouped
-- report reads (channel, team, assignee, first responder, link), so that grouping by them
-- is an index-only scan; and the CSAT surveys sent in a span, with their answers, for the
-- reports and the CSAT export.

DROP INDEX conversations_started;
CREATE INDEX conversations_started ON conversations (created_at, id)
    INCLUDE (status, first_response_seconds, first_response_business_seconds, person_replies,
             channel_id, team_id, assignee_id, first_response_by, link_id);

DROP INDEX conversations_resolved;
CREATE INDEX conversations_resolved ON conversations (resolved_at)
    INCLUDE (resolution_seconds, resolution_business_seconds, channel_id, team_id, assignee_id, first_response_by, link_id)
    WHERE status = 'resolved';

CREATE INDEX conversations_csat ON conversations (csat_queued_at, id)
    INCLUDE (csat_scale, csat_score, channel_id, team_id, assignee_id, first_response_by, link_id)
    WHERE csat_queued_at IS NOT NULL;
