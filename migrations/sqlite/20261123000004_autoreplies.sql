-- Auto-replies (SQLite): each channel's configuration, the quick replies agents and rules
-- send, the keyword rules, and the log of what was sent automatically.
-- Times are INTEGER milliseconds since the Unix epoch; ids 16-byte BLOB UUIDs; JSON is TEXT.
--
-- The documents (business hours, greeting, away, limits, a rule's spec, a quick reply's
-- body) are the domain types serialised as JSON, validated by them before they are
-- written: the database keeps them whole rather than spreading them over columns, so a
-- new option of the engine needs no migration.

-- One row per channel that has been configured; a channel without one has nothing on.
CREATE TABLE auto_reply_settings (
    channel_id     BLOB PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    business_name  TEXT,                 -- {{business.name}}; the channel's name when NULL
    locale         TEXT,                 -- Locale: {{next_open}}'s language when the contact's is unknown
    hours          TEXT,                 -- BusinessHours; NULL = not set
    greeting       TEXT,                 -- Greeting; NULL = off
    away           TEXT,                 -- Away; NULL = off
    limits         TEXT,                 -- Limits; NULL = the defaults
    updated_at     INTEGER NOT NULL
);

-- Canned answers, shared by all agents and channels: the shortcut is unique.
CREATE TABLE quick_replies (
    id          BLOB PRIMARY KEY,
    shortcut    TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,           -- QuickReply (text, media, buttons)
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Keyword rules, evaluated in `position` order (ties by id). A rule with a channel
-- applies to that channel only; without one, to every channel.
CREATE TABLE keyword_rules (
    id          BLOB PRIMARY KEY,
    channel_id  BLOB REFERENCES channels (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    spec        TEXT NOT NULL,           -- KeywordRule
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX keyword_rules_order ON keyword_rules (position, id);

-- The configuration's version: bumped in the same transaction as every admin write, so
-- a worker can keep the compiled configuration and reload only when this moved.
CREATE TABLE auto_reply_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  INTEGER NOT NULL
);
INSERT INTO auto_reply_version (id, version) VALUES (1, 0);

-- Every message sent automatically, with the rule that sent it (a RuleRef string).
-- The engine's facts read it: per contact by time (the hourly cap) and per
-- conversation and rule by time (cooldowns).
CREATE TABLE auto_replies (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    contact_id       BLOB NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    rule             TEXT NOT NULL,
    message_id       BLOB REFERENCES messages (id) ON DELETE CASCADE, -- NULL: a rule that fired without sending (labels, assignment)
    sent_at          INTEGER NOT NULL
);
CREATE INDEX auto_replies_contact ON auto_replies (contact_id, sent_at);
CREATE INDEX auto_replies_conversation_rule ON auto_replies (conversation_id, rule, sent_at);
CREATE UNIQUE INDEX auto_replies_message ON auto_replies (message_id);

-- The rule that sent a message (NULL for everything else).
ALTER TABLE messages ADD COLUMN auto_rule TEXT;
-- "When did an agent last write in this conversation?" (away is held back after one).
CREATE INDEX messages_agent_activity ON messages (conversation_id, timestamp) WHERE sent_by IS NOT NULL;
