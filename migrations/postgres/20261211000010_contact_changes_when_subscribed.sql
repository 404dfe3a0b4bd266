-- Contact changes are recorded only while an outgoing-webhook endpoint is enabled: the
-- fan-out would drop them otherwise, and an install without endpoints (most) then writes
-- nothing for them, in the ingest transaction or after it.
CREATE OR REPLACE FUNCTION contact_changes_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
        INSERT INTO contact_changes (contact_id, kind, at) VALUES (NEW.id, TG_ARGV[0], clock_timestamp());
    END IF;
    RETURN NULL;
END;
$$;
