-- Lighter writes on the hot path of every answered message.

-- Search covers what customers and agents wrote, not automatic replies (greeting, away,
-- keyword answers): those are canned text, the same words in every conversation, so they
-- would match every search for a common word while finding nothing an agent looks for,
-- and indexing their trigrams costs writes on the hot path of every answered message.
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;

INSERT INTO messages_fts (messages_fts, rowid, text)
SELECT 'delete', rowid, text FROM messages WHERE auto_rule IS NOT NULL AND text IS NOT NULL;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN NEW.text IS NOT NULL AND NEW.auto_rule IS NULL
BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (NEW.rowid, NEW.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN OLD.text IS NOT NULL AND OLD.auto_rule IS NULL
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', OLD.rowid, OLD.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, auto_rule ON messages
WHEN OLD.text IS NOT NEW.text OR OLD.auto_rule IS NOT NEW.auto_rule
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
    SELECT 'delete', OLD.rowid, OLD.text WHERE OLD.text IS NOT NULL AND OLD.auto_rule IS NULL;
    INSERT INTO messages_fts (rowid, text)
    SELECT NEW.rowid, NEW.text WHERE NEW.text IS NOT NULL AND NEW.auto_rule IS NULL;
END;

-- The bookkeeping of an outbound message is done by its insert, inside the one statement
-- (every statement is a round trip to the single writer's thread): the conversation's
-- last activity and message count, and, for a message a rule sent, the auto-reply log
-- that cooldowns and loop protection read. PostgreSQL keeps these as statements of the
-- same transaction.
CREATE TRIGGER messages_outbound_conversation AFTER INSERT ON messages
WHEN NEW.direction = 'outbound'
BEGIN
    UPDATE conversations SET last_message_at = MAX(last_message_at, NEW.timestamp),
        message_count = message_count + 1
    WHERE id = NEW.conversation_id;
END;
CREATE TRIGGER messages_auto_reply_log AFTER INSERT ON messages
WHEN NEW.auto_rule IS NOT NULL
BEGIN
    INSERT INTO auto_replies (conversation_id, contact_id, rule, message_id, sent_at)
    SELECT id, contact_id, NEW.auto_rule, NEW.id, NEW.created_at FROM conversations WHERE id = NEW.conversation_id;
END;
