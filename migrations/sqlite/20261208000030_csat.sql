-- CSAT surveys in WhatsApp: each channel's survey settings, and each conversation's
-- survey and answer.
--
-- The settings are the domain's `CsatSettings` as JSON (validated before they are
-- written). A conversation's survey is queued in the transaction that resolves it (an
-- automatic message, `auto_rule = 'csat'`, whose outbox job runs after the configured
-- delay); `csat_message_id` set means it was queued, so it is never queued twice. The
-- customer's tap records `csat_score` (on a scale of `csat_scale` points) until
-- `csat_expires_at`; a later tap within that time changes it. With a follow-up question,
-- `csat_comment_asked_at` is set at the first rating and the customer's next text
-- becomes `csat_comment`.
CREATE TABLE csat_settings (
    channel_id  BLOB PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    settings    TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

ALTER TABLE conversations ADD COLUMN csat_message_id BLOB REFERENCES messages (id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN csat_queued_at INTEGER;
ALTER TABLE conversations ADD COLUMN csat_expires_at INTEGER;
ALTER TABLE conversations ADD COLUMN csat_scale INTEGER;
ALTER TABLE conversations ADD COLUMN csat_score INTEGER;
ALTER TABLE conversations ADD COLUMN csat_rated_at INTEGER;
ALTER TABLE conversations ADD COLUMN csat_comment_asked_at INTEGER;
ALTER TABLE conversations ADD COLUMN csat_comment TEXT;
ALTER TABLE conversations ADD COLUMN csat_commented_at INTEGER;

-- The surveys waiting for a comment: read for a batch's texting contacts.
CREATE INDEX conversations_csat_comment ON conversations (contact_id, channel_id)
    WHERE csat_comment_asked_at IS NOT NULL AND csat_comment IS NULL;
