-- The event log is a deduplication window, not an archive: an applied delivery's row is
-- deleted once Meta can no longer redeliver it (webhooks.event_retention_days), except
-- while a recorded change refers to it. This index finds those references, and checks
-- the foreign key when a row is deleted without reading the whole table.
CREATE INDEX recorded_changes_event ON recorded_changes (event_id);
