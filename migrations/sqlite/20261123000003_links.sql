-- Labels and click-to-chat links (SQLite). Times are INTEGER epoch milliseconds, ids
-- 16-byte BLOB UUIDs, JSON is TEXT, as everywhere.
--
-- A link's wa.me URL carries a prefilled text with a short reference code; when a
-- conversation's first message contains the code of an enabled link (or comes from a
-- Click-to-WhatsApp ad whose source id a link names), the conversation is attributed to
-- the link and gets the link's labels. Clicks on the short link /l/{slug} are counted
-- with the time, the referrer's host and the browser family only: never the IP address
-- or the full user agent.

-- The business number as customers dial it (E.164 digits, no '+'): wa.me links need it,
-- and the Graph API's phone_number_id is not it.
ALTER TABLE channels ADD COLUMN display_phone_number TEXT;

CREATE TABLE labels (
    id           BLOB PRIMARY KEY,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL UNIQUE,   -- the name lowercased (Unicode) by the application
    colour       TEXT NOT NULL,          -- '#rrggbb'
    description  TEXT,
    created_at   INTEGER NOT NULL
);

CREATE TABLE conversation_labels (
    conversation_id  BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label_id         BLOB NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    added_by         BLOB REFERENCES agents (id) ON DELETE SET NULL,  -- NULL: by the system
    added_at         INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label_id);

CREATE TABLE links (
    id              BLOB PRIMARY KEY,
    channel_id      BLOB NOT NULL REFERENCES channels (id),
    slug            TEXT NOT NULL UNIQUE,   -- /l/{slug}, lowercase
    ref_code        TEXT NOT NULL UNIQUE,   -- uppercase, in the prefilled text
    phone           TEXT NOT NULL,          -- E.164 digits the wa.me URL opens
    text            TEXT,                   -- the prefilled text, without the reference
    campaign        TEXT,
    source          TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',  -- JSON array of strings
    ad_source_id    TEXT UNIQUE,            -- a Click-to-WhatsApp ad's referral.source_id
    enabled         INTEGER NOT NULL DEFAULT 1,
    created_by      BLOB REFERENCES agents (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Labels a link puts on the conversations it starts.
CREATE TABLE link_labels (
    link_id   BLOB NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    label_id  BLOB NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (link_id, label_id)
);
CREATE INDEX link_labels_label ON link_labels (label_id);

CREATE TABLE link_clicks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    link_id        BLOB NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    at             INTEGER NOT NULL,
    referrer_host  TEXT,
    agent_family   TEXT NOT NULL   -- chrome, safari, firefox, edge, whatsapp, bot, other
);
CREATE INDEX link_clicks_link ON link_clicks (link_id, at);

-- The link a conversation is attributed to, when, and how (JSON: via 'ref' or 'ad', the
-- code or the ad's source id, ctwa_clid, headline).
ALTER TABLE conversations ADD COLUMN link_id BLOB REFERENCES links (id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN attributed_at INTEGER;
ALTER TABLE conversations ADD COLUMN attribution TEXT;
CREATE INDEX conversations_link ON conversations (link_id, created_at) WHERE link_id IS NOT NULL;
CREATE INDEX conversations_link_resolved ON conversations (link_id, resolved_at) WHERE link_id IS NOT NULL;
