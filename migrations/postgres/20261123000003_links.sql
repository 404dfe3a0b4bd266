-- Labels and click-to-chat links (PostgreSQL): the same tables, columns, constraints and
-- index names as migrations/sqlite, with native types.
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
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    name_key     TEXT NOT NULL UNIQUE,   -- the name lowercased (Unicode) by the application
    colour       TEXT NOT NULL,          -- '#rrggbb'
    description  TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE conversation_labels (
    conversation_id  UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label_id         UUID NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    added_by         UUID REFERENCES agents (id) ON DELETE SET NULL,  -- NULL: by the system
    added_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (conversation_id, label_id)
);
CREATE INDEX conversation_labels_label ON conversation_labels (label_id);

CREATE TABLE links (
    id              UUID PRIMARY KEY,
    channel_id      UUID NOT NULL REFERENCES channels (id),
    slug            TEXT NOT NULL UNIQUE,   -- /l/{slug}, lowercase
    ref_code        TEXT NOT NULL UNIQUE,   -- uppercase, in the prefilled text
    phone           TEXT NOT NULL,          -- E.164 digits the wa.me URL opens
    text            TEXT,                   -- the prefilled text, without the reference
    campaign        TEXT,
    source          TEXT,
    tags            JSONB NOT NULL DEFAULT '[]',  -- array of strings
    ad_source_id    TEXT UNIQUE,            -- a Click-to-WhatsApp ad's referral.source_id
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_by      UUID REFERENCES agents (id) ON DELETE SET NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- Labels a link puts on the conversations it starts.
CREATE TABLE link_labels (
    link_id   UUID NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    label_id  UUID NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (link_id, label_id)
);
CREATE INDEX link_labels_label ON link_labels (label_id);

CREATE TABLE link_clicks (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    link_id        UUID NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    at             TIMESTAMPTZ NOT NULL,
    referrer_host  TEXT,
    agent_family   TEXT NOT NULL   -- chrome, safari, firefox, edge, whatsapp, bot, other
);
CREATE INDEX link_clicks_link ON link_clicks (link_id, at);

-- The link a conversation is attributed to, when, and how (JSON: via 'ref' or 'ad', the
-- code or the ad's source id, ctwa_clid, headline).
ALTER TABLE conversations ADD COLUMN link_id UUID REFERENCES links (id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN attributed_at TIMESTAMPTZ;
ALTER TABLE conversations ADD COLUMN attribution JSONB;
CREATE INDEX conversations_link ON conversations (link_id, created_at) WHERE link_id IS NOT NULL;
CREATE INDEX conversations_link_resolved ON conversations (link_id, resolved_at) WHERE link_id IS NOT NULL;
