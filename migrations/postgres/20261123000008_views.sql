-- Views, contacts, notes and search (PostgreSQL).

-- Contacts: the name agents give a contact (shown instead of the profile name) and
-- custom attributes (a JSON object of string, number and boolean values, at most 50).
ALTER TABLE contacts ADD COLUMN name TEXT;
ALTER TABLE contacts ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}';

-- Views. The queue view (open, unassigned, waiting) walks conversations_queue (0005);
-- these serve the other sorts with a status filter, the window sort, and a contact's
-- conversations newest first.
CREATE INDEX conversations_status_waiting ON conversations (status, waiting_since, id);
CREATE INDEX conversations_window ON conversations (window_closes_at, id) WHERE window_closes_at IS NOT NULL;
CREATE INDEX conversations_contact_created ON conversations (contact_id, created_at, id);

-- Private notes on a conversation (never sent anywhere) and the agents they mention.
CREATE TABLE notes (
    id               UUID PRIMARY KEY,
    conversation_id  UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_id        UUID REFERENCES agents (id) ON DELETE SET NULL,
    text             TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX notes_conversation ON notes (conversation_id, id);

CREATE TABLE note_mentions (
    note_id   UUID NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
    agent_id  UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,   -- order of first mention in the text
    PRIMARY KEY (note_id, agent_id)
);
CREATE INDEX note_mentions_agent ON note_mentions (agent_id, note_id);

-- Text search: pg_trgm GIN indexes answer ILIKE '%…%' (case-insensitive substrings in
-- any script, at least three characters), the same meaning as SQLite's FTS5 trigram
-- tables. pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: a
-- database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_text_trgm ON messages USING gin (text gin_trgm_ops);
CREATE INDEX contacts_search_trgm ON contacts
    USING gin ((wa_id || ' ' || coalesce(profile_name, '') || ' ' || coalesce(name, '')) gin_trgm_ops);
