-- Reports over a million conversations: the span indexes cover every column a grouped
-- report reads (channel, team, assignee, first responder, link), so that grouping by them
-- reads no table rows; the resolved-in-span index leads with `resolved_at` and is not
-- partial (SQLite did not pick the partial one for the resolved figures); and the CSAT
-- surveys sent in a span, with their answers, for the reports and the CSAT export.

DROP INDEX conversations_started;
CREATE INDEX conversations_started ON conversations
    (created_at, id, status, first_response_seconds, first_response_business_seconds, person_replies,
     channel_id, team_id, assignee_id, first_response_by, link_id);

DROP INDEX conversations_resolved;
CREATE INDEX conversations_resolved ON conversations
    (resolved_at, status, resolution_seconds, resolution_business_seconds,
     channel_id, team_id, assignee_id, first_response_by, link_id);

CREATE INDEX conversations_csat ON conversations
    (csat_queued_at, id, csat_scale, csat_score, channel_id, team_id, assignee_id, first_response_by, link_id)
    WHERE csat_queued_at IS NOT NULL;
