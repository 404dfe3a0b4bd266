-- Search is indexed in bulk, outside the transactions that store messages and contacts.
--
-- The trigram indexes cost ~10 % of the server's CPU per answered message when kept by
-- triggers: every ingest commit flushed a small FTS5 segment and later merged it. Now the
-- store indexes what was stored since its last pass, a chunk per transaction, every
-- 250 ms while ingest runs and before every search (so a search always sees everything
-- stored before it). `indexed_to` is the mark: every row at or below it is in the
-- index, none above it is.
--
-- The triggers keep that true: a row stored above the mark waits for the indexer; one
-- stored at or below it (a rowid reused after the newest rows were deleted) is indexed at
-- once; a row deleted or changed is taken out of (or changed in) the index only if it is
-- in it. After a manual VACUUM that renumbers rowids, rebuild and move the marks:
--   INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
--   INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');
--   UPDATE search_progress SET indexed_to = (SELECT COALESCE(MAX(rowid), 0) FROM messages) WHERE name = 'messages';
--   UPDATE search_progress SET indexed_to = (SELECT COALESCE(MAX(rowid), 0) FROM contacts) WHERE name = 'contacts';
CREATE TABLE search_progress (
    name        TEXT PRIMARY KEY,   -- the indexed table: 'messages' or 'contacts'
    indexed_to  INTEGER NOT NULL    -- the highest rowid indexed; every one below it is too
) WITHOUT ROWID;
-- Everything stored so far was indexed by the old triggers.
INSERT INTO search_progress (name, indexed_to) VALUES
    ('messages', (SELECT COALESCE(MAX(rowid), 0) FROM messages)),
    ('contacts', (SELECT COALESCE(MAX(rowid), 0) FROM contacts));

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN NEW.text IS NOT NULL AND NEW.auto_rule IS NULL
    AND NEW.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'messages')
BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (NEW.rowid, NEW.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN OLD.text IS NOT NULL AND OLD.auto_rule IS NULL
    AND OLD.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'messages')
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', OLD.rowid, OLD.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, auto_rule ON messages
WHEN (OLD.text IS NOT NEW.text OR OLD.auto_rule IS NOT NEW.auto_rule)
    AND OLD.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'messages')
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
    SELECT 'delete', OLD.rowid, OLD.text WHERE OLD.text IS NOT NULL AND OLD.auto_rule IS NULL;
    INSERT INTO messages_fts (rowid, text)
    SELECT NEW.rowid, NEW.text WHERE NEW.text IS NOT NULL AND NEW.auto_rule IS NULL;
END;

CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts
WHEN NEW.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'contacts')
BEGIN
    INSERT INTO contacts_fts (rowid, wa_id, profile_name, name) VALUES (NEW.rowid, NEW.wa_id, NEW.profile_name, NEW.name);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts
WHEN OLD.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'contacts')
BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, wa_id, profile_name, name)
    VALUES ('delete', OLD.rowid, OLD.wa_id, OLD.profile_name, OLD.name);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF wa_id, profile_name, name ON contacts
WHEN (OLD.wa_id IS NOT NEW.wa_id OR OLD.profile_name IS NOT NEW.profile_name OR OLD.name IS NOT NEW.name)
    AND OLD.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'contacts')
BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, wa_id, profile_name, name)
    VALUES ('delete', OLD.rowid, OLD.wa_id, OLD.profile_name, OLD.name);
    INSERT INTO contacts_fts (rowid, wa_id, profile_name, name) VALUES (NEW.rowid, NEW.wa_id, NEW.profile_name, NEW.name);
END;
