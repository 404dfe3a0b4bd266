-- Contact changes are recorded only while an outgoing-webhook endpoint is enabled: the
-- fan-out would drop them otherwise, and an install without endpoints (most) then writes
-- nothing for them, in the ingest transaction or after it.
DROP TRIGGER contact_changes_created;
DROP TRIGGER contact_changes_updated;

CREATE TRIGGER contact_changes_created AFTER INSERT ON contacts
WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled)
BEGIN
    INSERT INTO contact_changes (contact_id, kind, at)
    VALUES (NEW.id, 'created', CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;

CREATE TRIGGER contact_changes_updated AFTER UPDATE ON contacts
WHEN (OLD.profile_name IS NOT NEW.profile_name OR OLD.name IS NOT NEW.name
  OR OLD.attributes IS NOT NEW.attributes OR OLD.username IS NOT NEW.username)
  AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled)
BEGIN
    INSERT INTO contact_changes (contact_id, kind, at)
    VALUES (NEW.id, 'updated', CAST(unixepoch('subsec') * 1000 AS INTEGER));
END;
