-- Retention purges without long transactions (issue #20: the webhook path's p99 while a
-- purge runs).
--
-- 1. The search indexes become contentless FTS5 tables with `contentless_delete`: taking
--    a row out writes a tombstone (its rowid) instead of a delete entry per trigram, and
--    `deletemerge = 0` keeps tombstones from starting a merge of the segment they fall in.
--    Before, a purge step of 50 messages usually took 1 ms, but a step in 13 took 11-15 ms
--    and a step in 200 took 60-110 ms, because each one merged the delete entries
--    written by the steps before it. A tombstoned row's entries leave the file when its
--    segment is next merged (an erasure merges the whole index, see erasure.rs). Searches
--    use only the rowids, so the text need not be kept twice. After a manual VACUUM that
--    renumbers rowids, empty and refill an index (and move the marks):
--      DELETE FROM messages_fts;
--      INSERT INTO messages_fts (rowid, text) SELECT rowid, text FROM messages
--        WHERE text IS NOT NULL AND auto_rule IS NULL;
--      UPDATE search_progress SET indexed_to = (SELECT COALESCE(MAX(rowid), 0) FROM messages) WHERE name = 'messages';
--    and the same for contacts_fts (wa_id, profile_name, name from contacts).
-- 2. `conversations.purge_cursor`: the last message a purge anonymised in a conversation
--    it has not finished, so a conversation with 100,000 messages is anonymised a step's
--    worth of messages at a time (and the purge resumes there after a restart).

ALTER TABLE conversations ADD COLUMN purge_cursor BLOB;

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('deletemerge', 0);
INSERT INTO messages_fts (rowid, text)
SELECT rowid, text FROM messages
WHERE text IS NOT NULL AND auto_rule IS NULL
  AND rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'messages');

DROP TRIGGER contacts_fts_insert;
DROP TRIGGER contacts_fts_delete;
DROP TRIGGER contacts_fts_update;
DROP TABLE contacts_fts;
CREATE VIRTUAL TABLE contacts_fts USING fts5 (
    wa_id, profile_name, name, content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO contacts_fts (contacts_fts, rank) VALUES ('deletemerge', 0);
INSERT INTO contacts_fts (rowid, wa_id, profile_name, name)
SELECT rowid, wa_id, profile_name, name FROM contacts
WHERE rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'contacts');

-- The triggers keep the mark's meaning (see 20261124000011_search_in_bulk.sql): a row at
-- or below it is indexed at once, a row above it waits for the indexer.
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
    DELETE FROM messages_fts WHERE rowid = OLD.rowid;
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, auto_rule ON messages
WHEN (OLD.text IS NOT NEW.text OR OLD.auto_rule IS NOT NEW.auto_rule)
    AND OLD.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'messages')
BEGIN
    DELETE FROM messages_fts WHERE rowid = OLD.rowid AND OLD.text IS NOT NULL AND OLD.auto_rule IS NULL;
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
    DELETE FROM contacts_fts WHERE rowid = OLD.rowid;
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF wa_id, profile_name, name ON contacts
WHEN (OLD.wa_id IS NOT NEW.wa_id OR OLD.profile_name IS NOT NEW.profile_name OR OLD.name IS NOT NEW.name)
    AND OLD.rowid <= (SELECT indexed_to FROM search_progress WHERE name = 'contacts')
BEGIN
    DELETE FROM contacts_fts WHERE rowid = OLD.rowid;
    INSERT INTO contacts_fts (rowid, wa_id, profile_name, name) VALUES (NEW.rowid, NEW.wa_id, NEW.profile_name, NEW.name);
END;
