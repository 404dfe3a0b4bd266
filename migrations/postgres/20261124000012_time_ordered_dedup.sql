-- The event log deduplicates by (body_time, body_sha256) instead of the hash alone.
--
-- body_time is the first `"timestamp":"…"` in the body (Meta's unix seconds of its first
-- message or status; 0 if none), so the unique index grows at its end, in time order,
-- like the log, instead of taking every delivery on a random page of an index that never
-- shrinks (bodies are purged, rows and hashes stay). Both parts are functions of the
-- bytes, so a retry (the same bytes) still finds its first copy.
ALTER TABLE webhook_events ADD COLUMN body_time BIGINT NOT NULL DEFAULT 0;

-- The same scan as switchboard_cloudapi::delivery_time, for the rows already stored: the
-- digits (at most 18) after the first `"timestamp":"`. A purged body's row keeps 0: its
-- retries ended long before (Meta retries for up to 7 days).
UPDATE webhook_events
SET body_time = COALESCE(substring(encode(substring(body FROM position('"timestamp":"'::bytea IN body) + 13 FOR 18), 'escape') FROM '^[0-9]+')::bigint, 0)
WHERE position('"timestamp":"'::bytea IN body) > 0;

ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_body_sha256_key;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_delivery_key UNIQUE (body_time, body_sha256);
ALTER TABLE webhook_events ALTER COLUMN body_time DROP DEFAULT;
