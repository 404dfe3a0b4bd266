-- Channels managed through the API (issue #21): the WhatsApp Business Account, whether the
-- channel is enabled, its own access token and app secret (sealed with the secrets key:
-- AES-256-GCM, the nonce first, the key's id beside them; context = the channel's id), and
-- its throughput tier. NULL token or secret: the configured (global) one is used.
ALTER TABLE channels ADD COLUMN waba_id TEXT;
ALTER TABLE channels ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE channels ADD COLUMN access_token BLOB;
ALTER TABLE channels ADD COLUMN access_token_key_id TEXT;
ALTER TABLE channels ADD COLUMN app_secret BLOB;
ALTER TABLE channels ADD COLUMN app_secret_key_id TEXT;
-- Messages per second Meta allows this number (80 by default, up to 1000); NULL: the
-- sender's configured rate.
ALTER TABLE channels ADD COLUMN throughput_per_second INTEGER;
ALTER TABLE channels ADD COLUMN updated_at INTEGER;

-- Message templates as Meta approved them, synchronised per channel from its WhatsApp
-- Business Account (`GET /{waba-id}/message_templates`) and kept current by
-- `message_template_*` webhooks. `components` is Meta's array, as JSON.
CREATE TABLE message_templates (
    channel_id   BLOB NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    language     TEXT NOT NULL,
    template_id  TEXT,
    category     TEXT NOT NULL,
    status       TEXT NOT NULL,
    quality      TEXT,
    components   TEXT NOT NULL,
    synced_at    INTEGER NOT NULL,
    PRIMARY KEY (channel_id, name, language)
);
CREATE INDEX message_templates_id ON message_templates (template_id);
