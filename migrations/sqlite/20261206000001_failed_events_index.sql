-- /readyz and /metrics count the failed deliveries as they count the pending ones:
-- through a partial index, so the cost follows the backlog, not the size of the log.
CREATE INDEX webhook_events_failed ON webhook_events (id) WHERE state = 'failed';
