-- Views, contacts, notes and search (SQLite).
-- Times are INTEGER milliseconds since the Unix epoch; ids 16-byte BLOB UUIDs; JSON is TEXT.

-- Contacts: the name agents give a contact (shown instead of the profile name) and
-- custom attributes (a JSON object of string, number and boolean values, at most 50).
ALTER TABLE contacts ADD COLUMN name TEXT;
ALTER TABLE contacts ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';

-- Views. The queue view (open, unassigned, waiting) walks conversations_queue (0005);
-- these serve the other sorts with a status filter, the window sort, and a contact's
-- conversations newest first.
CREATE INDEX conversations_status_waiting ON conversations (status, waiting_since, id);
CREATE INDEX conversations_window ON conversations (window_closes_at, id) WHERE window_closes_at IS NOT NULL;
CREATE INDEX conversations_contact_created ON conversations (contact_id, created_at, id);

-- Private notes on a conversation (never sent anywhere) and the agents they mention.
CREATE TABLE notes (
    id               BLOB PRIMARY KEY,
    conversation_id  BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_id        BLOB REFERENCES agents (id) ON DELETE SET NULL,
    text             TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX notes_conversation ON notes (conversation_id, id);

CREATE TABLE note_mentions (
    note_id   BLOB NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    agent_id  BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,   -- order of first mention in the text
    PRIMARY KEY (note_id, agent_id)
);
CREATE INDEX note_mentions_agent ON note_mentions (agent_id, note_id);

-- Text search: FTS5 with the trigram tokenizer (case-insensitive substrings in any
-- script, at least three characters), as external-content tables over messages.text and
-- the contact's wa_id and names, kept in step by the triggers below. Both index the
-- implicit rowid: should a manual VACUUM renumber rowids, rebuild them with
--   INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
--   INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, content = 'messages', tokenize = 'trigram'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN NEW.text IS NOT NULL
BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (NEW.rowid, NEW.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN OLD.text IS NOT NULL
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', OLD.rowid, OLD.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages WHEN OLD.text IS NOT NEW.text
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', OLD.rowid, OLD.text WHERE OLD.text IS NOT NULL;
    INSERT INTO messages_fts (rowid, text) SELECT NEW.rowid, NEW.text WHERE NEW.text IS NOT NULL;
END;

CREATE VIRTUAL TABLE contacts_fts USING fts5 (
    wa_id, profile_name, name, content = 'contacts', tokenize = 'trigram'
);
INSERT INTO contacts_fts (contacts_fts) VALUES ('rebuild');

CREATE TRIGGER contacts_fts_insert AFTER INSERT ON contacts
BEGIN
    INSERT INTO contacts_fts (rowid, wa_id, profile_name, name) VALUES (NEW.rowid, NEW.wa_id, NEW.profile_name, NEW.name);
END;
CREATE TRIGGER contacts_fts_delete AFTER DELETE ON contacts
BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, wa_id, profile_name, name)
    VALUES ('delete', OLD.rowid, OLD.wa_id, OLD.profile_name, OLD.name);
END;
CREATE TRIGGER contacts_fts_update AFTER UPDATE OF wa_id, profile_name, name ON contacts
WHEN OLD.wa_id IS NOT NEW.wa_id OR OLD.profile_name IS NOT NEW.profile_name OR OLD.name IS NOT NEW.name
BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, wa_id, profile_name, name)
    VALUES ('delete', OLD.rowid, OLD.wa_id, OLD.profile_name, OLD.name);
    INSERT INTO contacts_fts (rowid, wa_id, profile_name, name) VALUES (NEW.rowid, NEW.wa_id, NEW.profile_name, NEW.name);
END;
