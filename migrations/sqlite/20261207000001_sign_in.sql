-- Sign-in for the console (issue #17): passwords, sessions, invitations, failed sign-ins,
-- TOTP. Secrets are never stored in the clear: passwords as argon2id PHC strings, session
-- and invitation tokens as their SHA-256, TOTP secrets encrypted (AES-256-GCM, the nonce
-- first, the key's id beside them).

ALTER TABLE agents ADD COLUMN password_hash TEXT;
ALTER TABLE agents ADD COLUMN totp_required INTEGER NOT NULL DEFAULT 0;
-- nonce (12 bytes) || ciphertext; NULL: no TOTP.
ALTER TABLE agents ADD COLUMN totp_secret BLOB;
ALTER TABLE agents ADD COLUMN totp_key_id TEXT;
-- 0 while enrolled but not confirmed by a first code.
ALTER TABLE agents ADD COLUMN totp_confirmed INTEGER NOT NULL DEFAULT 0;
-- The last 30-second step a code was accepted for: a code is never accepted twice.
ALTER TABLE agents ADD COLUMN totp_last_step INTEGER;

CREATE TABLE sessions (
    id                     BLOB PRIMARY KEY,
    token_sha256           BLOB NOT NULL UNIQUE,
    agent_id               BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at             INTEGER NOT NULL,
    last_seen_at           INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    user_agent             TEXT,
    client_addr            TEXT,
    revoked_at             INTEGER,
    -- 1 until the second factor is given (or, when it is required, enrolled).
    second_factor_pending  INTEGER NOT NULL
);
CREATE INDEX sessions_agent ON sessions (agent_id, created_at);

CREATE TABLE invitations (
    id            BLOB PRIMARY KEY,
    token_sha256  BLOB NOT NULL UNIQUE,
    agent_id      BLOB NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    purpose       TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_by    BLOB REFERENCES agents (id) ON DELETE SET NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);
CREATE INDEX invitations_agent ON invitations (agent_id);

-- Failed sign-ins, kept for the rate limit (shared by every instance) and the audit.
-- `account` is the email as typed, lower-cased (an unknown one too).
CREATE TABLE sign_in_failures (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT NOT NULL,
    agent_id     BLOB REFERENCES agents (id) ON DELETE SET NULL,
    client_addr  TEXT NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_account ON sign_in_failures (account, at);
CREATE INDEX sign_in_failures_client ON sign_in_failures (client_addr, at);

-- One row: what admins set about sign-in.
CREATE TABLE security_settings (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    totp_mandatory  INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER,
    updated_by      BLOB REFERENCES agents (id) ON DELETE SET NULL
);
INSERT INTO security_settings (id, totp_mandatory) VALUES (1, 0);
